"""Where SMPL's joints are in a BVH skeleton, found by its shape (names only tell left from right):

1. Limb pairs: two children of one joint whose main chains (longest path down) have equal bone
   lengths. Legs and arms are the two longest pairs; the arms branch further from the root.
2. The spine runs from the legs' branch (pelvis) to the arms' branch (spine3); the head is the
   longest other chain leaving the arms' branch.
3. Each limb's bones are fitted to human proportions (optional clavicle / hip bone, two long bones,
   hand or foot); joints at one position (zero offsets) count as one, the deepest moving the bone.
4. Up runs from the feet through the pelvis to the chest; left comes from the pair's names
   (Left/Right, L/R, l/r), else from the feet, which point forward.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field

import numpy as np

from anr_studio.body.skeleton import joint_index
from anr_studio.errors import AnrError, shown
from anr_studio.motion.bvh_parse import BvhData

# Expected share of each part of a limb's length (clavicle or hip bone, upper, lower, hand or foot),
# from CMU, Mixamo, Daz and Biovision rigs; a part's weight says how much rigs agree on it.
_ARM = ((0.18, 0.5), (0.33, 1.0), (0.30, 1.0), (0.19, 0.5))
_LEG = ((0.03, 0.5), (0.40, 1.0), (0.41, 1.0), (0.16, 0.5))
_NO_END_JOINT = 0.05  # cost of a lower bone that ends in an End Site (no wrist or ankle joint)
_CHAIN_POINTS = 4  # joints of each chain compared when pairing limbs
_PAIR_TOLERANCE = 0.15  # summed bone-length differences of a pair, as a share of its chain length
_MAX_CHILDREN_PAIRED = 8
_MAX_PAIRS = 24  # a body has a few pairs (legs, arms, eyes, fingers); longer ones come first


@dataclass
class Segment:
    """A bone of a chain: moved by joint ``owner``, ending at joint ``end`` (-1: an End Site)."""

    owner: int
    end: int
    start_pos: np.ndarray
    end_pos: np.ndarray

    @property
    def length(self) -> float:
        return float(np.linalg.norm(self.end_pos - self.start_pos))


@dataclass
class BodyChains:
    """SMPL joint index -> BVH joint index, the up and left axes (file coordinates, unit)."""

    mapping: dict[int, int]
    up: np.ndarray
    left: np.ndarray
    rest: np.ndarray  # (J,3) rest positions of the joints
    ends: np.ndarray  # (J,3) rest positions of End Sites, NaN where none
    notes: list[str] = field(default_factory=list)


class _Tree:
    def __init__(self, data: BvhData) -> None:
        self.data = data
        J = len(data.names)
        self.parents = data.parents
        self.rest = np.zeros((J, 3))
        for j in range(J):
            p = int(data.parents[j])
            self.rest[j] = data.offsets[j] + (self.rest[p] if p >= 0 else 0.0)
        self.ends = self.rest + data.end_sites
        self.children: list[list[int]] = [[] for _ in range(J)]
        for j in range(1, J):
            self.children[int(data.parents[j])].append(j)
        bone = np.linalg.norm(data.offsets, axis=1)
        end_len = np.nan_to_num(np.linalg.norm(data.end_sites, axis=1))
        self.reach = end_len.copy()  # longest distance down the tree from each joint
        self.best = np.full(J, -1)
        for j in range(J - 1, -1, -1):  # children come after their parent
            for c in self.children[j]:
                if bone[c] + self.reach[c] > self.reach[j]:
                    self.reach[j], self.best[j] = bone[c] + self.reach[c], c
        self.scale = float(max(np.ptp(np.concatenate([self.rest, self.ends[np.isfinite(self.ends[:, 0])]]), axis=0).max(), 0))
        self.eps = 1e-6 * self.scale

    def chain(self, start: int, limit: int | None = None) -> list[int]:
        """Returns the joints of the longest path down from ``start`` (inclusive), at most ``limit``."""
        out = [start]
        while self.best[out[-1]] >= 0 and (limit is None or len(out) < limit):
            out.append(int(self.best[out[-1]]))
        return out

    def is_ancestor(self, a: int, b: int) -> bool:
        """Returns True when ``a`` is ``b`` or one of its ancestors."""
        while b >= 0:
            if a == b:
                return True
            b = int(self.parents[b])
        return False

    def segments(self, branch: int, joints: list[int], with_end: bool = True) -> list[Segment]:
        """Returns the non-zero bones from ``branch`` along ``joints`` (and the last one's End Site)."""
        points = [(branch, self.rest[branch])] + [(j, self.rest[j]) for j in joints]
        if with_end and np.isfinite(self.ends[joints[-1], 0]):
            points.append((-1, self.ends[joints[-1]]))
        return [Segment(owner, end, start, stop) for (owner, start), (end, stop) in zip(points, points[1:])
                if np.linalg.norm(stop - start) > self.eps]


def side_hint(name_a: str, name_b: str) -> int:
    """Returns +1 when ``name_a`` reads as the left one of the pair and ``name_b`` as the right, -1 for
    the reverse, 0 when the names do not tell (Left/Right, L/R, l/r, _l/_r, .L/.R in any place)."""
    a, b = name_a.split(":")[-1], name_b.split(":")[-1]
    k = len(os.path.commonprefix([a, b]))
    m = len(os.path.commonprefix([a[k:][::-1], b[k:][::-1]]))  # the common suffix after the prefix
    first = (a[k: len(a) - m][:1].lower(), b[k: len(b) - m][:1].lower())
    return {("l", "r"): 1, ("r", "l"): -1}.get(first, 0)


def _limb_pair(tree: _Tree, branch: int, a: int, b: int) -> float:
    """Returns the pair's chain length when the chains from ``a`` and ``b`` have the same bone lengths
    (left and right limbs; bone lengths do not depend on the rest pose) and move apart, else 0."""
    ca, cb = tree.chain(a, _CHAIN_POINTS), tree.chain(b, _CHAIN_POINTS)
    if len(ca) != len(cb):
        return 0.0
    pa = np.vstack([np.zeros(3), tree.rest[ca] - tree.rest[branch]])
    pb = np.vstack([np.zeros(3), tree.rest[cb] - tree.rest[branch]])
    la, lb = np.linalg.norm(np.diff(pa, axis=0), axis=1), np.linalg.norm(np.diff(pb, axis=0), axis=1)
    length = max(la.sum(), lb.sum())
    if length <= tree.eps or np.abs(la - lb).sum() > _PAIR_TOLERANCE * length:
        return 0.0
    if np.linalg.norm(pa - pb, axis=1).max() < 0.05 * length:
        return 0.0
    return float(length)


def _limb_pairs(tree: _Tree) -> list[tuple[float, int, int, int]]:
    """Returns (length, branch, a, b) for every pair of children that look like left and right limbs, longest first."""
    pairs = []
    bone = np.linalg.norm(tree.data.offsets, axis=1)
    for j, kids in enumerate(tree.children):
        if len(kids) < 2:
            continue
        kids = sorted(kids, key=lambda c: -(bone[c] + tree.reach[c]))[:_MAX_CHILDREN_PAIRED]
        for a, b in itertools.combinations(kids, 2):
            ra, rb = bone[a] + tree.reach[a], bone[b] + tree.reach[b]
            length = 0.0 if min(ra, rb) < 0.7 * max(ra, rb) else _limb_pair(tree, j, a, b)
            if length > 0:
                pairs.append((length, j, a, b))
    return sorted(pairs, key=lambda p: -p[0])[:_MAX_PAIRS]


def fit_limb(segments: list[Segment], branch: int, template) -> tuple[int, int] | None:
    """Returns (index of the upper long bone in ``segments``, index of the first bone after the branch),
    the split whose part lengths best match ``template``; None when the chain has fewer than two bones."""
    first = 1 if segments and segments[0].owner == branch else 0
    lengths = np.array([s.length for s in segments])
    total = lengths[first:].sum()
    best, best_cost = None, np.inf
    for t in range(first, len(segments) - 1):
        parts = (lengths[first:t].sum(), lengths[t], lengths[t + 1], lengths[t + 2:].sum())
        cost = sum(w * (p / total - e) ** 2 for p, (e, w) in zip(parts, template))
        if segments[t + 1].end < 0:
            cost += _NO_END_JOINT
        if cost < best_cost:
            best, best_cost = t, cost
    return None if best is None else (best, first)


def _limb_joints(segments: list[Segment], t: int, first: int, names: tuple[str, str, str, str, str]) -> dict[str, int]:
    """Returns SMPL joint name -> BVH joint for a limb split at ``t`` (names: pre, upper, lower, end, distal)."""
    pre, upper, lower, end, distal = names
    out = {upper: segments[t].owner, lower: segments[t + 1].owner}
    if pre and t - 1 >= first:
        out[pre] = segments[t - 1].owner
    if t + 2 < len(segments):
        out[end] = segments[t + 2].owner
    elif segments[t + 1].end >= 0:
        out[end] = segments[t + 1].end
    if t + 3 < len(segments):
        out[distal] = segments[t + 3].owner
    elif t + 2 < len(segments) and segments[t + 2].end >= 0:
        out[distal] = segments[t + 2].end
    return out


def _head(tree: _Tree, branch: int, first: int) -> dict[str, int]:
    """Returns the neck and head joints of the chain from ``branch`` through ``first``. The chain stops
    at a joint with a pair of children (the eyes): that joint is the head."""
    chain = tree.chain(first)
    cut = next((k for k, j in enumerate(chain) if any(
        _limb_pair(tree, j, a, b) > 0 for a, b in itertools.combinations(tree.children[j][:_MAX_CHILDREN_PAIRED], 2))), None)
    if cut is not None:
        chain = chain[:cut + 1]
    owners = [s.owner for s in tree.segments(branch, chain, with_end=cut is None) if s.owner != branch]
    if cut is not None and (not owners or owners[-1] != chain[-1]):
        owners.append(chain[-1])
    if not owners:
        return {"head": chain[-1]}
    return {"head": owners[-1], **({"neck": owners[0]} if len(owners) >= 2 else {})}


def _unit(v: np.ndarray) -> np.ndarray | None:
    n = float(np.linalg.norm(v))
    return v / n if n > 1e-12 else None


def find_body(data: BvhData) -> BodyChains:
    """Returns where SMPL's joints are in the BVH skeleton; AnrError naming the file when it has no two legs and two arms."""
    tree = _Tree(data)
    label = data.label
    if tree.scale <= 0:
        raise AnrError(f"{label}: every OFFSET is zero, expected a skeleton whose joints are apart")
    pairs = _limb_pairs(tree)
    found = None
    for (_, bi, ai, ci), (_, bj, aj, cj) in itertools.combinations(pairs, 2):
        inside = any(tree.is_ancestor(x, y) for x in (ai, ci) for y in (aj, cj, bj)) or \
            any(tree.is_ancestor(y, x) for y in (aj, cj) for x in (ai, ci, bi))
        if not inside and (tree.is_ancestor(bi, bj) or tree.is_ancestor(bj, bi)):
            found = ((bi, ai, ci), (bj, aj, cj))
            break
    if found is None:
        names = ", ".join(shown(n, 24) for n in data.names[:12]) + (", ..." if len(data.names) > 12 else "")
        raise AnrError(f"{label}: cannot find two legs and two arms in the skeleton ({names}), expected a humanoid "
                       "whose legs and arms are pairs of joint chains with equal bones, branching from a spine")
    (b1, *p1), (b2, *p2) = found
    if b1 == b2:
        raise AnrError(f"{label}: the legs and the arms both branch from joint {shown(data.names[b1])}, expected the "
                       "arms to branch from a spine above the legs")
    (hips, legs), (chest, arms) = ((b1, p1), (b2, p2)) if tree.is_ancestor(b1, b2) else ((b2, p2), (b1, p1))
    spine = [chest]
    while spine[-1] != hips:
        spine.append(int(tree.parents[spine[-1]]))
    spine.reverse()  # hips ... chest

    mapping: dict[str, int] = {"pelvis": hips, "spine3": chest}
    between = spine[1:-1]
    if between:
        mapping["spine1"] = between[0]
    if len(between) >= 2:
        mapping["spine2"] = between[len(between) // 2]

    # head: the longest chain leaving the chest (or a spine joint below it) that is not an arm
    head_start = None
    for joint in reversed(spine[1:]):
        others = [c for c in tree.children[joint] if c not in arms and c not in spine]
        if others:
            head_start = (joint, max(others, key=lambda c: tree.reach[c] + np.linalg.norm(data.offsets[c])))
            break
    if head_start is not None:
        mapping.update(_head(tree, *head_start))

    limbs: dict[str, dict[str, int]] = {}
    feet = []
    for pair, branch, template, roles in ((legs, hips, _LEG, ("", "hip", "knee", "ankle", "foot")),
                                          (arms, chest, _ARM, ("collar", "shoulder", "elbow", "wrist", "hand"))):
        for k, first in enumerate(pair):
            segs = tree.segments(branch, tree.chain(first))
            split = fit_limb(segs, branch, template)
            if split is None:
                raise AnrError(f"{label}: the limb from joint {shown(data.names[first])} has fewer than two bones, "
                               "expected an upper and a lower bone (thigh and shin, upper arm and forearm)")
            t, start = split
            limbs[f"{roles[1]}{k}"] = _limb_joints(segs, t, start, roles)
            if roles[1] == "hip" and t + 2 < len(segs):
                feet.append(segs[t + 2].end_pos - segs[t + 2].start_pos)

    knees = [tree.rest[limbs[f"hip{k}"]["knee"]] for k in range(2)]
    up = _unit(tree.rest[chest] - tree.rest[hips])
    down = _unit(tree.rest[hips] - np.mean(knees, axis=0))
    up = _unit((up if up is not None else 0) + (down if down is not None else 0))
    if up is None:
        raise AnrError(f"{label}: the legs and the spine leave joint {shown(data.names[hips])} in opposite "
                       "directions that cancel, expected legs below the spine")
    across = tree.rest[limbs["hip0"]["knee"]] - tree.rest[limbs["hip1"]["knee"]]
    across = _unit(across - (across @ up) * up)
    if across is None:
        raise AnrError(f"{label}: the two legs share one position, expected the left and right legs apart")
    notes = []
    leg_hint = side_hint(data.names[legs[0]], data.names[legs[1]])
    arm_hint = side_hint(data.names[arms[0]], data.names[arms[1]])
    arm_across = tree.rest[limbs["shoulder0"]["elbow"]] - tree.rest[limbs["shoulder1"]["elbow"]]
    arm_across = _unit(arm_across - (arm_across @ up) * up)
    forward = _unit(sum(f - (f @ up) * up for f in feet)) if feet else None
    if leg_hint:
        left = across * leg_hint
    elif arm_hint and arm_across is not None:
        left = arm_across * arm_hint
    elif forward is not None and abs(float(forward @ np.cross(up, across))) > 0.5:
        left = across * np.sign(float(np.cross(up, forward) @ across))
        notes.append("left and right from the direction of the feet")
    else:
        left = across
        notes.append("left and right guessed: the names and the feet do not tell them apart")
    arm_first_left = arm_hint > 0 if arm_hint else arm_across is not None and float(arm_across @ left) > 0
    leg_first_left = float(across @ left) > 0

    for side, leg, arm in (("left", 0 if leg_first_left else 1, 0 if arm_first_left else 1),
                           ("right", 1 if leg_first_left else 0, 1 if arm_first_left else 0)):
        for role, joint in {**limbs[f"hip{leg}"], **limbs[f"shoulder{arm}"]}.items():
            mapping[f"{side}_{role}"] = joint
    return BodyChains({joint_index(k): v for k, v in mapping.items()}, up, _unit(left - (left @ up) * up),
                      tree.rest, tree.ends, notes)
