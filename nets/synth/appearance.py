"""How a synthetic crowd looks: per-person clothes colours and the background (floor and sky).

Identities are visually distinct: each person has a shirt colour (hues spread by the golden ratio, so
neighbouring ids differ most), darker trousers of another hue, and one of four skin tones; a face of
the body takes the colour of the part its most-weighted joint moves (legs and pelvis: trousers; head,
neck, hands, forearms: skin; the rest: shirt).
"""
from __future__ import annotations

import colorsys

import numpy as np

from nets.synth.camera import Camera

# face colour groups by the joint that moves the face most: 0 shirt, 1 trousers, 2 skin
_TROUSERS = (0, 1, 2, 4, 5, 7, 8, 10, 11)
_SKIN = (12, 15, 20, 21, 22, 23)


def person_colors(n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 3, 3) uint8 BGR shirt, trousers and skin colours; shirts of neighbouring ids differ in hue."""
    skin_tones = np.array([[224, 189, 160], [198, 146, 110], [141, 96, 66], [92, 62, 45]], dtype=np.float64)
    out = np.zeros((n, 3, 3), np.uint8)
    for i in range(n):
        hue = (0.07 + 0.618034 * i) % 1.0
        shirt = colorsys.hsv_to_rgb(hue, rng.uniform(0.55, 0.85), rng.uniform(0.75, 0.95))
        trousers = colorsys.hsv_to_rgb((hue + rng.uniform(0.3, 0.7)) % 1.0, rng.uniform(0.2, 0.5),
                                       rng.uniform(0.25, 0.5))
        skin = skin_tones[rng.integers(len(skin_tones))] / 255.0
        out[i] = np.rint(255 * np.array([shirt, trousers, skin]))[:, ::-1]
    return out


def face_groups(body) -> np.ndarray:
    """(F,) int8 colour group of each face of ``body`` (a BodyModel): 0 shirt, 1 trousers, 2 skin."""
    weights = body.smpl.lbs_weights.detach().cpu().numpy()
    main = weights[body.faces].mean(axis=1).argmax(axis=1)
    group = np.zeros(len(main), np.int8)
    group[np.isin(main, _TROUSERS)] = 1
    group[np.isin(main, _SKIN)] = 2
    return group


def floor_background(camera: Camera, tile_m: float = 1.0) -> np.ndarray:
    """(H, W, 3) uint8 BGR: a checkered floor fading into haze towards the horizon, sky above it."""
    w, h = camera.width, camera.height
    u, v = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    rays_cam = np.stack([u, v, np.ones_like(u)], -1) @ np.linalg.inv(camera.K).T
    rays = rays_cam @ camera.R  # world directions (R^T applied to each row vector)
    center = camera.center
    down = rays[..., 1] < -1e-6
    distance = np.where(down, center[1] / np.maximum(-rays[..., 1], 1e-6), 1e6)
    ground = center + distance[..., None] * rays
    tiles = (np.floor(ground[..., 0] / tile_m) + np.floor(ground[..., 2] / tile_m)) % 2
    floor = np.where(tiles[..., None] > 0, [118.0, 128.0, 134.0], [96.0, 104.0, 110.0])
    haze = np.array([205.0, 200.0, 190.0])
    fade = 1.0 - np.exp(-distance / 40.0)
    floor = floor * (1 - fade[..., None]) + haze * fade[..., None]
    up = np.clip(rays[..., 1] / np.linalg.norm(rays, axis=-1), 0.0, 1.0)[..., None]
    sky = haze * (1 - 4 * up).clip(0, 1) + np.array([225.0, 180.0, 140.0]) * (4 * up).clip(0, 1)
    image = np.where(down[..., None], floor, sky)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)
