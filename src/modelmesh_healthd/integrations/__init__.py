"""Code that runs inside someone else's process (a ModelMesh router), each an optional extra.

An integration depends only on the store's read API (`storage.read_only`, `storage.notify`) and the
daemon's admin API (HTTP), never on the daemon's internals: it must keep working against a daemon
of another version running elsewhere.
"""
