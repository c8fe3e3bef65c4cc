"""What `commands/` and `alerts/` share about Slack: the context handed to handlers, the user-facing
error tree, who may do what, text helpers and the process metrics."""
