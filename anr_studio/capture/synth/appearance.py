"""Per-seed identities of synthetic people (:class:`Identity`: clothes, colours, patterns) and their albedo.

:func:`albedo` paints a point from its region and canonical 3D position (independent of any UV layout),
with detail a renderer must keep: stripes and checks a few centimetres wide, printed text, a face.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

# Surface regions of the true person (one label per vertex, see person.py).
SKIN, FACE, HAIR, SHIRT, BOTTOMS, SHOES = range(6)

TOPS = ("tshirt", "longsleeve")
BOTTOMS_KINDS = ("skirt", "wide_trousers", "trousers")  # seed % 3 picks one
HAIR_STYLES = ("short", "volume", "bob")
SHIRT_PATTERNS = ("stripes", "plain", "dots")
BOTTOM_PATTERNS = ("plain", "checks", "vstripes")

_SKIN_TONES = np.array([[0.94, 0.78, 0.66], [0.87, 0.68, 0.53], [0.74, 0.54, 0.39], [0.55, 0.37, 0.25],
                        [0.36, 0.24, 0.16]], np.float32)
_HAIR_COLOURS = np.array([[0.08, 0.06, 0.05], [0.30, 0.18, 0.09], [0.62, 0.45, 0.22], [0.85, 0.72, 0.45],
                          [0.55, 0.20, 0.10]], np.float32)
# Ranges of the shares of each phenotype's range that identities draw from (ages: adults).
_PHENOTYPE_SHARES = {"gender": (0.0, 1.0), "age": (0.0, 0.6), "muscle": (0.2, 0.8), "weight": (0.2, 0.8),
                     "height": (0.3, 0.8), "proportions": (0.3, 0.7)}
_WORDS = ("ANR", "CVPR", "HELLO", "RENDER", "NEURAL", "UV-8", "ZEBRA", "ORBIT")


def _colour(rng: np.random.Generator, value: tuple[float, float] = (0.35, 0.95)) -> np.ndarray:
    """Returns a saturated random RGB colour (3,) float32 in [0, 1]."""
    hsv = np.array([[[rng.uniform(0, 180), rng.uniform(120, 255), rng.uniform(*value) * 255]]], np.float32)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32) / 255.0


@dataclass
class Identity:
    """What one synthetic person looks like; every field is drawn from the seed."""

    seed: int
    phenotype: dict[str, float]  # share of each phenotype's range, in [0, 1]
    top: str
    bottoms: str
    hair_style: str
    skin: np.ndarray  # (3,) RGB in [0, 1]
    hair_colour: np.ndarray
    shirt_colour: np.ndarray
    shirt_colour2: np.ndarray
    shirt_pattern: str
    stripe_period: float  # metres
    bottoms_colour: np.ndarray
    bottoms_colour2: np.ndarray
    bottoms_pattern: str
    shoe_colour: np.ndarray
    logo_text: str
    shirt_looseness: float  # metres of offset over the torso
    skirt_length: float  # metres below the waist
    skirt_flare: float  # extra radius per metre of drop
    hair_volume: float  # metres beyond the scalp
    logo: np.ndarray = field(repr=False, default=None)  # (h, w) float32 text mask
    face_image: np.ndarray = field(repr=False, default=None)  # (64, 64, 3) float32 face

    @classmethod
    def from_seed(cls, seed: int) -> "Identity":
        """Returns the identity of seed ``seed`` (the same seed always gives the same person)."""
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x5EED]))
        phenotype = {name: float(rng.uniform(lo, hi)) for name, (lo, hi) in _PHENOTYPE_SHARES.items()}
        shirt = _colour(rng)
        bottoms = _colour(rng, (0.2, 0.7))
        ident = cls(
            seed=int(seed),
            phenotype=phenotype,
            top=str(rng.choice(TOPS)),
            bottoms=BOTTOMS_KINDS[int(seed) % len(BOTTOMS_KINDS)],  # consecutive seeds never share the cut
            hair_style=str(rng.choice(HAIR_STYLES)),
            skin=_SKIN_TONES[rng.integers(len(_SKIN_TONES))] * rng.uniform(0.95, 1.05),
            hair_colour=_HAIR_COLOURS[rng.integers(len(_HAIR_COLOURS))],
            shirt_colour=shirt,
            shirt_colour2=np.clip(1.0 - shirt * rng.uniform(0.6, 1.0), 0, 1).astype(np.float32),
            shirt_pattern=str(rng.choice(SHIRT_PATTERNS)),
            stripe_period=float(rng.uniform(0.025, 0.05)),
            bottoms_colour=bottoms,
            bottoms_colour2=np.clip(bottoms * rng.uniform(0.3, 0.6), 0, 1).astype(np.float32),
            bottoms_pattern=str(rng.choice(BOTTOM_PATTERNS)),
            shoe_colour=_colour(rng, (0.1, 0.4)),
            logo_text=str(rng.choice(_WORDS)),
            shirt_looseness=float(rng.uniform(0.03, 0.05)),
            skirt_length=float(rng.uniform(0.35, 0.5)),
            skirt_flare=float(rng.uniform(0.25, 0.5)),
            hair_volume=float(rng.uniform(0.025, 0.05)),
        )
        ident.logo = _text_mask(ident.logo_text)
        ident.face_image = _face_image(rng, ident.skin)
        return ident


def _text_mask(text: str) -> np.ndarray:
    """Returns a (64, 160) float32 mask in [0, 1] with ``text`` printed in bold capitals."""
    img = np.zeros((64, 160), np.uint8)
    font = cv2.FONT_HERSHEY_DUPLEX
    scale = 1.6
    (w, h), _ = cv2.getTextSize(text, font, scale, 3)
    scale *= min(1.0, 150.0 / max(w, 1))
    (w, h), _ = cv2.getTextSize(text, font, scale, 3)
    cv2.putText(img, text, ((160 - w) // 2, (64 + h) // 2), font, scale, 255, 3, cv2.LINE_AA)
    cv2.rectangle(img, (2, 2), (157, 61), 255, 2, cv2.LINE_AA)
    return img.astype(np.float32) / 255.0


def _face_image(rng: np.random.Generator, skin: np.ndarray) -> np.ndarray:
    """Returns a (64, 64, 3) float32 face (row 0 the hairline, column 0 the person's right): eyes, brows, nose, lips."""
    img = np.empty((64, 64, 3), np.float32)
    img[:] = skin
    iris = _colour(rng, (0.3, 0.6))
    # Eyes a little above the middle, the mouth at four fifths.
    for cx in (17, 47):
        cv2.ellipse(img, (cx, 27), (6, 3), 0, 0, 360, (0.97, 0.97, 0.97), -1, cv2.LINE_AA)
        cv2.circle(img, (cx, 27), 2, tuple(float(c) for c in iris), -1, cv2.LINE_AA)
        cv2.line(img, (cx - 7, 20), (cx + 6, 19), tuple(float(c) * 0.35 for c in skin), 2, cv2.LINE_AA)
    cv2.line(img, (32, 30), (30, 42), tuple(float(c) * 0.8 for c in skin), 1, cv2.LINE_AA)
    lips = (0.75, 0.25, 0.3) if rng.uniform() < 0.5 else tuple(float(c) * 0.7 for c in skin)
    cv2.ellipse(img, (32, 51), (9, 3), 0, 0, 360, lips, -1, cv2.LINE_AA)
    return img


@dataclass
class Landmarks:
    """Rest-pose reference points of the true person (metres), used to place patterns."""

    face_centre: np.ndarray  # (3,) middle of the face, on its front
    face_size: tuple[float, float]  # (width, height) of the face image on the head
    chest_centre: np.ndarray  # (3,) where the logo sits
    logo_width: float
    floor_y: float  # lowest point of the feet


def _inside(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Returns whether normalised image coordinates (u, v) (P,) lie on the image."""
    return (u >= 0) & (u <= 1) & (v >= 0) & (v <= 1)


def _bilinear(img: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Returns ``img`` (h,w[,c]) sampled at normalised (u, v) (P,) in [0, 1] (u right, v down); zeros outside."""
    from scipy.ndimage import map_coordinates

    h, w = img.shape[:2]
    planes = img.reshape(h, w, -1)
    out = np.stack([map_coordinates(planes[..., c], [v * h - 0.5, u * w - 0.5], order=1, mode="nearest")
                    for c in range(planes.shape[2])], -1)
    return np.where(_inside(u, v)[:, None], out, 0.0).reshape(len(u), *img.shape[2:]).astype(np.float32)


def albedo(ident: Identity, marks: Landmarks, region: np.ndarray, pos: np.ndarray, normal: np.ndarray) -> np.ndarray:
    """Returns the albedo (P, 3) float32 in [0, 1] of P points: ``region`` (P,) labels (SKIN..SHOES), ``pos``
    (P, 3) canonical clothed rest positions in metres, ``normal`` (P, 3) rest normals (front-facing prints)."""
    out = np.empty((len(region), 3), np.float32)
    x, y, z = pos[:, 0], pos[:, 1], pos[:, 2]
    # A faint fine-grained variation so flat areas are never perfectly flat (fabric, skin pores).
    grain = 1.0 + 0.04 * np.sin(x * 613.0 + np.sin(y * 377.0) * 3.0) * np.sin(y * 541.0 + z * 211.0)

    m = region == SKIN
    out[m] = ident.skin
    m = region == FACE
    if m.any():
        fw, fh = marks.face_size
        u = 0.5 + (x[m] - marks.face_centre[0]) / fw  # the person's right (-x) is image-left, as seen from the front
        v = 0.5 - (y[m] - marks.face_centre[1]) / fh
        out[m] = np.where(_inside(u, v)[:, None], _bilinear(ident.face_image, u, v), ident.skin)
    m = region == HAIR
    if m.any():
        strands = 0.75 + 0.25 * np.sin(x[m] * 900.0 + np.sin(z[m] * 150.0) * 4.0) ** 2
        out[m] = ident.hair_colour[None] * strands[:, None] + 0.03
    m = region == SHIRT
    if m.any():
        base = np.repeat(ident.shirt_colour[None], m.sum(), 0)
        if ident.shirt_pattern == "stripes":
            on = np.sin(y[m] * 2 * np.pi / ident.stripe_period) > 0.3
            base[on] = ident.shirt_colour2
        elif ident.shirt_pattern == "dots":
            p = ident.stripe_period
            cx = np.mod(x[m] + 0.5 * p * np.floor(y[m] / p), p) - p / 2
            cy = np.mod(y[m], p) - p / 2
            cz = np.mod(z[m], p) - p / 2
            on = np.minimum(cx**2 + cy**2, cz**2 + cy**2) < (0.28 * p) ** 2
            base[on] = ident.shirt_colour2
        # The printed logo: a planar projection onto the chest, front-facing surface only.
        u = 0.5 + (x[m] - marks.chest_centre[0]) / marks.logo_width
        v = 0.5 - (y[m] - marks.chest_centre[1]) / (marks.logo_width * 0.4)
        ink = _bilinear(ident.logo, u, v) * (normal[m, 2] > 0.2)
        ink_colour = ident.shirt_colour2 if ident.shirt_pattern == "plain" else np.float32([0.97, 0.97, 0.95])
        if ident.shirt_pattern != "plain":
            # A white label behind the text keeps it legible over stripes.
            label = _inside(u, v) & (normal[m, 2] > 0.2)
            base[label] = ident.shirt_colour * 0.35
        out[m] = base * (1 - ink[:, None]) + ink_colour * ink[:, None]
    m = region == BOTTOMS
    if m.any():
        base = np.repeat(ident.bottoms_colour[None], m.sum(), 0)
        p = ident.stripe_period * 1.5
        if ident.bottoms_pattern == "checks":
            on = (np.sin(x[m] * 2 * np.pi / p) > 0) ^ (np.sin(y[m] * 2 * np.pi / p) > 0) ^ (np.sin(z[m] * 2 * np.pi / p) > 0)
            base[on] = ident.bottoms_colour2
        elif ident.bottoms_pattern == "vstripes":
            ang = np.arctan2(x[m], z[m])
            on = np.sin(ang * 24.0) > 0.5
            base[on] = ident.bottoms_colour2
        out[m] = base
    m = region == SHOES
    if m.any():
        sole = (y[m] - marks.floor_y) < 0.025
        out[m] = np.where(sole[:, None], np.float32([0.92, 0.92, 0.9]), ident.shoe_colour[None])
    return np.clip(out * grain[:, None], 0.0, 1.0)
