"""Batch jobs: a picklable job (model file, method, options), its inputs read chunk by chunk, and
a resumable zarr store. Above ``methods/``; used by the command line and by Dask."""
from .job import Job
from .store import Store, describe

__all__ = ["Job", "Store", "describe"]
