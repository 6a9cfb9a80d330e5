"""The group activity feed's entries for other services' events (settlements, members, the group)."""
