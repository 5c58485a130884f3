"""The Qt window: renders the core's state and forwards the user's intent. No business rule lives here."""
