"""A local op-conductor cluster simulator: op-conductor and op-node JSON-RPC over real loopback ports,
a raft-like leadership model, block production, and fault injection. Entry point: `sim.harness.simulate`.
"""
