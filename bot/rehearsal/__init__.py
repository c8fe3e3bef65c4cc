"""The rehearsal room: `conductor-bot demo`'s local Slack-like page (see `bot.rehearsal.server`)."""
