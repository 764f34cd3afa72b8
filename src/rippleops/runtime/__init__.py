"""What runs work, knowing nothing of the store or the services:

- ``executor`` — job executors (inline, a local thread pool; Ray later), the boundary
  around job code; the jobs service hands them a context of callbacks
- ``process`` — which process owns a running job, and whether it is still alive
- ``providers`` — model providers (embedders; later generators): inputs in, results out
"""
