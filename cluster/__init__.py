"""Ground floor that knows op-conductor: topology, RPC, the cluster client, the poller, snapshots,
the health model, clock and redaction. Imports nothing of this project above it."""
