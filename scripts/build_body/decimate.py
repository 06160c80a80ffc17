"""Seam-aware quadric decimation by half-edge collapses (build time only).

Why our own: pymeshlab's texture-aware quadric collapse lets faces straddle UV seams (their
corners then come from different charts) and flips UV triangles. Here every collapse keeps a
triangle inside one chart: a vertex on a seam may only slide along that seam onto a neighbour
that is on it too, and seam junctions never move. Kept vertices are original vertices, so every
per-vertex quantity (skinning, blendshapes) is gathered, never interpolated.
"""

from __future__ import annotations

import heapq

import numpy as np

SEAM_WEIGHT = 10.0  # weight of the planes through seam edges (keeps seams where they were)
LENGTH_WEIGHT = 1e-5  # m^2: prefers short edges in flat regions, which keeps triangles even
MIN_NORMAL_DOT = 0.2  # a collapse may turn a face's normal by at most ~78 degrees
MIN_QUALITY = 0.08  # 4*sqrt(3)*area / sum(edge^2): 1 for equilateral, 0 for a sliver


def _face_quality(p: np.ndarray) -> np.ndarray:
    e = np.stack([p[:, 1] - p[:, 0], p[:, 2] - p[:, 1], p[:, 0] - p[:, 2]], 1)
    area = 0.5 * np.linalg.norm(np.cross(e[:, 0], -e[:, 2]), axis=1)
    return 4.0 * np.sqrt(3.0) * area / np.maximum((e**2).sum((1, 2)), 1e-30)


class _Decimator:
    """Collapse state: positions ``p`` (V,3), faces ``f`` and UV faces ``t`` (F,3) rewritten in place
    (``alive`` marks kept faces), Garland-Heckbert quadrics ``q`` (V,4,4) with extra planes along
    seams, the seam edges, and each vertex's UV corners."""

    def __init__(self, verts: np.ndarray, faces: np.ndarray, uv: np.ndarray, uv_faces: np.ndarray):
        self.p = verts.astype(np.float64)
        self.f = faces.copy()
        self.t = uv_faces.copy()
        self.uv = uv.astype(np.float64)
        self.alive = np.ones(len(faces), dtype=bool)
        self.vfaces: list[set[int]] = [set() for _ in range(len(verts))]
        for i, tri in enumerate(faces):
            for v in tri:
                self.vfaces[v].add(i)
        self.removed = np.zeros(len(verts), dtype=bool)
        self.stamp = np.zeros(len(verts), dtype=np.int64)
        self.q = np.zeros((len(verts), 4, 4))
        tri = self.p[faces]
        n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        area = 0.5 * np.linalg.norm(n, axis=1)
        n = n / np.maximum(2.0 * area[:, None], 1e-30)
        plane = np.concatenate([n, -(n * tri[:, 0]).sum(1, keepdims=True)], 1)
        kq = area[:, None, None] * plane[:, :, None] * plane[:, None, :]
        for k in range(3):
            np.add.at(self.q, faces[:, k], kq)
        # Seam edges: the two faces across the edge use different UV corners on its ends.
        edge_corners: dict[tuple[int, int], list] = {}
        for i, (tri_v, tri_t) in enumerate(zip(faces, uv_faces)):
            for k in range(3):
                a, b = int(tri_v[k]), int(tri_v[(k + 1) % 3])
                ta, tb = int(tri_t[k]), int(tri_t[(k + 1) % 3])
                key, val = ((a, b), (ta, tb, i)) if a < b else ((b, a), (tb, ta, i))
                edge_corners.setdefault(key, []).append(val)
        self.seam_edges: set[tuple[int, int]] = set()
        for (a, b), vals in edge_corners.items():
            if len(vals) != 2 or vals[0][:2] != vals[1][:2]:
                self.seam_edges.add((a, b))
                for ta, tb, i in vals:
                    e = self.p[b] - self.p[a]
                    m = np.cross(e, n[i])
                    m /= max(np.linalg.norm(m), 1e-30)
                    pl = np.append(m, -m @ self.p[a])
                    kq = SEAM_WEIGHT * (e @ e) * np.outer(pl, pl)
                    self.q[a] += kq
                    self.q[b] += kq
        self.corners: list[set[int]] = [set() for _ in range(len(verts))]
        for tri_v, tri_t in zip(faces, uv_faces):
            for v, t in zip(tri_v, tri_t):
                self.corners[v].add(int(t))
        self.num_faces = len(faces)

    def neighbours(self, v: int) -> set[int]:
        return {int(x) for i in self.vfaces[v] for x in self.f[i]} - {v}

    def seam_degree(self, v: int) -> int:
        return sum(1 for w in self.neighbours(v) if (min(v, w), max(v, w)) in self.seam_edges)

    def plan(self, u: int, w: int):
        """Returns (cost, corner map) of collapsing u onto w, or None when not allowed."""
        shared = [i for i in self.vfaces[u] if w in self.f[i]]
        if len(shared) != 2:
            return None
        nu, nw = self.neighbours(u), self.neighbours(w)
        if len(nu & nw) != 2:  # link condition: the result stays a manifold
            return None
        on_seam = len(self.corners[u]) > 1 or self.seam_degree(u) > 0
        if on_seam and ((min(u, w), max(u, w)) not in self.seam_edges or self.seam_degree(u) != 2):
            return None
        cmap: dict[int, int] = {}
        for i in shared:
            ku, kw = list(self.f[i]).index(u), list(self.f[i]).index(w)
            tu, tw = int(self.t[i][ku]), int(self.t[i][kw])
            if cmap.setdefault(tu, tw) != tw:
                return None
        others = [i for i in self.vfaces[u] if i not in shared]
        if not others:
            return None
        fv = self.f[others].copy()
        ft = self.t[others].copy()
        for r in range(len(others)):
            k = list(fv[r]).index(u)
            if int(ft[r][k]) not in cmap:
                return None
            fv[r][k], ft[r][k] = w, cmap[int(ft[r][k])]
        old = self.p[self.f[others]]
        new = self.p[fv]
        n_old = np.cross(old[:, 1] - old[:, 0], old[:, 2] - old[:, 0])
        n_new = np.cross(new[:, 1] - new[:, 0], new[:, 2] - new[:, 0])
        dots = (n_old * n_new).sum(1) / np.maximum(np.linalg.norm(n_old, axis=1) * np.linalg.norm(n_new, axis=1), 1e-30)
        if dots.min() < MIN_NORMAL_DOT:
            return None
        qual = _face_quality(new)
        if qual.min() < min(MIN_QUALITY, _face_quality(old).min()):
            return None
        t = self.uv[ft]
        uv_area = (t[:, 1, 0] - t[:, 0, 0]) * (t[:, 2, 1] - t[:, 0, 1]) - (t[:, 1, 1] - t[:, 0, 1]) * (t[:, 2, 0] - t[:, 0, 0])
        if uv_area.min() <= 1e-9:  # a flipped or degenerate UV triangle
            return None
        x = np.append(self.p[w], 1.0)
        d = self.p[w] - self.p[u]
        cost = float(x @ self.q[u] @ x) + LENGTH_WEIGHT * float(d @ d)
        return cost, (others, fv, ft, shared)

    def push_best(self, heap: list, u: int) -> None:
        self.stamp[u] += 1
        best = None
        for w in self.neighbours(u):
            res = self.plan(u, w)
            if res is not None and (best is None or res[0] < best[0]):
                best = (res[0], w)
        if best is not None:
            heapq.heappush(heap, (best[0], u, best[1], int(self.stamp[u])))

    def run(self, target_faces: int) -> None:
        heap: list = []
        for u in range(len(self.p)):
            self.push_best(heap, u)
        while self.num_faces > target_faces and heap:
            _, u, w, stamp = heapq.heappop(heap)
            if self.removed[u] or self.removed[w] or stamp != self.stamp[u]:
                continue
            res = self.plan(u, w)
            if res is None:
                self.push_best(heap, u)
                continue
            others, fv, ft, shared = res[1]
            touched = self.neighbours(u) | {w}
            u_seams = [(min(u, x), max(u, x)) for x in touched if (min(u, x), max(u, x)) in self.seam_edges]
            for i in shared:
                self.alive[i] = False
                for v in self.f[i]:
                    self.vfaces[v].discard(i)
            self.f[others], self.t[others] = fv, ft
            for i in others:
                self.vfaces[w].add(i)
            self.vfaces[u] = set()
            self.removed[u] = True
            self.q[w] += self.q[u]
            for a in u_seams:
                self.seam_edges.discard(a)
                b = a[0] if a[1] == u else a[1]
                if b != w:
                    self.seam_edges.add((min(b, w), max(b, w)))
            self.corners[w] = {int(c) for i in self.vfaces[w] for c, v in zip(self.t[i], self.f[i]) if v == w}
            self.num_faces -= 2
            for v in touched:
                if not self.removed[v]:
                    self.push_best(heap, v)


def decimate_seam_aware(verts: np.ndarray, faces: np.ndarray, uv: np.ndarray, uv_faces: np.ndarray,
                        target_faces: int) -> tuple[np.ndarray, np.ndarray]:
    """Returns (faces (F',3), uv_faces (F',3)) of the decimated mesh, indexing the ORIGINAL vertices and UVs.

    verts (V,3), faces (F,3), uv (U,2), uv_faces (F,3) of a closed, consistently oriented mesh
    whose UV triangles all have positive area; the result keeps that property.
    """
    dec = _Decimator(verts, faces, uv, uv_faces)
    dec.run(target_faces)
    return dec.f[dec.alive], dec.t[dec.alive]
