"""Microsoft Teams: the meeting bot (Bot Framework) and Microsoft Graph."""
