"""NeuralView: the avatar's neural render from the viewport's camera and pose, rendered off the UI thread."""

from __future__ import annotations

import time

from PySide6 import QtCore, QtWidgets

from anr_studio.components.pose_state import PoseState
from anr_studio.components.protocols import StudioAvatar
from anr_studio.components.scene import ViewState
from anr_studio.gui.qt_util import ImageLabel, hbox, vbox
from anr_studio.gui.theme import IMAGE_WELL, NEURAL_BACKDROP
from anr_studio.jobs.preview import NeuralPreview, PreviewRequest, PreviewResult, default_preview_size

NO_AVATAR = "No avatar loaded.\n\nFile ▸ Open avatar… (Ctrl+Shift+O) loads an .anr file;\ntrain one in the Training panel."


class NeuralView(QtWidgets.QWidget):
    """Shows the latest neural render; ``rendered(PreviewResult)`` fires on the main thread."""

    rendered = QtCore.Signal(object)
    _arrived = QtCore.Signal(object)  # emitted on the worker thread, handled on the main thread (queued)

    def __init__(self, pose_state: PoseState, view_state: ViewState, parent=None) -> None:
        super().__init__(parent)
        self.pose_state, self.view_state = pose_state, view_state
        self.size_px = default_preview_size()
        self.identity: str | None = None
        self.extra_note = ""  # e.g. the try-on panel says which identities the preview blends
        self.label = ImageLabel(NO_AVATAR, objectName="neuralImage", styleSheet=IMAGE_WELL)
        # Changing text must never resize the panel (and shrink the 3D view beside it).
        self.info = QtWidgets.QLabel("", objectName="neuralInfo", styleSheet="color: #bbb; font-size: 11px;", wordWrap=True,
                                     sizePolicy=QtWidgets.QSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored,
                                                                      QtWidgets.QSizePolicy.Policy.Preferred))
        self.ident_box = QtWidgets.QComboBox(
            toolTip="Identity shown in the neural preview", minimumContentsLength=8, currentTextChanged=self.show_identity,
            sizeAdjustPolicy=QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setLayout(vbox(hbox(QtWidgets.QLabel("Identity:"), (self.ident_box, 1)), (self.label, 1), self.info, margins=2))
        self._arrived.connect(self._on_result, QtCore.Qt.ConnectionType.QueuedConnection)
        self.worker = NeuralPreview(self._arrived.emit)
        self.last_result: PreviewResult | None = None
        self.latencies: list[float] = []
        """Seconds from an edit to its image painted on screen, the last 50."""
        self.images_shown = 0
        """Neural images painted since the view was made."""
        # While the user drags, frames come at a quarter of the pixels (4x sooner); the full
        # frame follows as soon as a quick frame arrives with no newer edit behind it.
        self.progressive = True
        self._edit_t = 0.0
        self._refine_pending = False
        pose_state.changed.connect(self.request_interactive)
        view_state.changed.connect(self.request_interactive)
        self._update_info()

    def set_avatar(self, avatar: StudioAvatar | None) -> None:
        """Shows ``avatar`` (or the empty state for None) and renders it."""
        self.worker.set_avatar(avatar)
        self.last_result = None
        self._refine_pending = False
        self.extra_note = ""
        with QtCore.QSignalBlocker(self.ident_box):
            self.ident_box.clear()
            if avatar is not None:
                self.ident_box.addItems(list(avatar.identities))
        self.identity = self.ident_box.currentText() or None
        if avatar is None:
            self.label.set_array(None, NO_AVATAR)
        else:
            self.label.set_array(None, "Rendering…")
            self.request()
        self._update_info()

    def add_identity(self, name: str) -> None:
        """Lists ``name``, an identity added to the avatar, in the picker (the picked one stays)."""
        if self.ident_box.findText(name) < 0:
            with QtCore.QSignalBlocker(self.ident_box):
                self.ident_box.addItem(name)

    def show_identity(self, name: str) -> None:
        """Renders identity ``name`` of the avatar (the picker keeps its choice)."""
        self.identity = name or None
        self.request()

    def request(self, *_args, size: int | None = None, stamp: float | None = None) -> None:
        """Asks the worker for a render of the current pose and view at ``size`` (default full; latest wins);
        ``stamp``: perf_counter() of the edit it shows, where latency counts from (default now)."""
        if self.worker.avatar is None or self.identity is None:
            return
        s = self.pose_state
        px = int(size or self.size_px)
        stamp = time.perf_counter() if stamp is None else stamp
        self.worker.request(PreviewRequest(self.identity, s.pose, s.betas, s.transl, self.view_state.view, (px, px), stamp,
                                          NEURAL_BACKDROP))

    def request_interactive(self, *_args) -> None:
        """Renders a half-resolution frame now and the full one as soon as the edits stop."""
        self._edit_t = time.perf_counter()
        if not self.progressive:
            self.request(stamp=self._edit_t)
            return
        self._refine_pending = True
        self.request(size=max(32, (self.size_px // 2) // 16 * 16), stamp=self._edit_t)

    def refining(self) -> bool:
        """Returns True while a full-resolution frame is still to follow the quick one on screen."""
        return self._refine_pending

    def _on_result(self, res: PreviewResult) -> None:
        if res.error is not None:
            self._refine_pending = False
            self.info.setText(f"Preview failed: {res.error}")
            return
        if self.worker.avatar is None:
            return
        self.last_result = res
        self.label.set_array(res.rgb)
        self.label.repaint()  # on screen now: latency counts to here
        self.latencies = (self.latencies + [time.perf_counter() - res.request.stamp])[-50:]
        self.images_shown += 1
        self._update_info(res)
        if self._refine_pending and res.request.stamp >= self._edit_t:
            # No edit since this frame's: the input is idle, so the full frame follows at once.
            self._refine_pending = False
            if res.request.size[0] != self.size_px:
                self.request(stamp=self._edit_t)
        self.rendered.emit(res)

    def _update_info(self, res: PreviewResult | None = None) -> None:
        import torch

        parts = []
        if not torch.cuda.is_available():
            parts.append(f"CPU only: neural preview at reduced resolution {self.size_px}×{self.size_px}")
        if self.extra_note:
            parts.append(self.extra_note)
        if res is not None:
            h = res.request.size[0]
            parts.append(f"{h}² render {1000 * res.render_s:.0f} ms, edit→image on screen {1000 * self.latencies[-1]:.0f} ms")
        self.info.setText(" · ".join(parts))

    def shutdown(self) -> None:
        self._refine_pending = False
        self.pose_state.changed.disconnect(self.request_interactive)
        self.view_state.changed.disconnect(self.request_interactive)
        self.worker.close()
