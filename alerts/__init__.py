"""Alerts: pure rules and state machine, plus the watcher and notifier adapters around them.

- `model`: `Condition`, `RuleSpec`, `AlertState`, `fingerprint()` — the values.
- `catalog`: each health condition's alert timing (`RULES`: `for`, reminders, resolve).
- `rules`: `evaluate(snapshot, spec, memory, now)` → conditions + `WatchMemory`, from
  `cluster.conditions.assess` (the one health model status also shows).
- `observations` / `effects`: what happens to an alert, and what Slack should do about it.
- `state`: `transition()` (the one state machine) and `observe_network()` (one tick of a network).
- `burst`: `group_effects()` folds a burst of new posts to one place into one summary.
- `own_ops`: attributes an alert the bot's own approved operation causes to its request.
- `blocks` / `event_blocks` / `texts` / `ids`: Block Kit builders, thread texts, Slack action ids.

Adapters (Redis, HTTP, Slack; not imported by the pure modules above):
- `alert_store`: alert records, watcher memory, network silences and the outbox in Redis.
- `watcher`: `Watcher.tick(network)` — lease, poll, evaluate, transition, persist (CAS), notify.
- `notifier`: delivers effects through the outbox (rate limits, outages, never two posts).
- `leader_events`: leader changes as one event message per flap, its chain kept in Redis (CAS).
- `buttons` / `views`: the alert verbs and buttons; the `alerts` list, Share and Timeline.
"""
