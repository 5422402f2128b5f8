"""어딨노 keyword briefing: subscriptions, reverse matching, alerts, feeds and e-mail digests."""
