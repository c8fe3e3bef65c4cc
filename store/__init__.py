"""Ground floor that knows Redis: connection (and embedded Valkey), the store gateway (the only code
that talks to Redis), keys, locks, audit and the Lua scripts."""
