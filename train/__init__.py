"""Training and evaluation of 3DCrowdNet. Not built yet: see the trainer issue."""
