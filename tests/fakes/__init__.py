"""Real servers standing in for third parties in tests: `slack_api.FakeSlackApi` (Slack's Web API and
response_url webhooks) and `slack_requests` (signed requests exactly as Slack sends them)."""
