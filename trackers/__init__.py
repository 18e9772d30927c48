"""Multi-person 2D pose tracking (norfair). Not built yet: see the tracking issue."""
