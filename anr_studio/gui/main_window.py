"""MainWindow: the studio's window — viewport and neural preview in the centre, dockable panels,
menus, shortcuts, a status bar, and window state remembered between launches (QSettings)."""

from __future__ import annotations

import functools
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from anr_studio.components.avatars import open_avatar, save_avatar
from anr_studio.components.face_colors import neural_face_colors
from anr_studio.components.job_list import JobList
from anr_studio.components.paint import PaintState
from anr_studio.components.pose_state import PoseState
from anr_studio.components.protocols import StudioAvatar, StudioBody
from anr_studio.components.scene import ViewState, default_body, pose_body
from anr_studio.errors import AnrError
from anr_studio.gui.app import demo_avatar
from anr_studio.gui.capture_panel import CapturePanel
from anr_studio.gui.file_drop import FileDrop
from anr_studio.gui.help_menu import HelpMenu, describe_actions
from anr_studio.gui.job_list import JobListWidget
from anr_studio.gui.keyframes_panel import KeyframesPanel
from anr_studio.gui.neural_view import NeuralView
from anr_studio.gui.pose_panel import PosePanel
from anr_studio.gui.qt_util import action, ask_user, fill_menu, guarded, open_file
from anr_studio.gui.recovery import Recovery
from anr_studio.gui.theme import IMAGE_WELL, apply_dark_theme
from anr_studio.gui.training_panel import FitDialog, TrainingPanel
from anr_studio.gui.tryon_panel import TryOnPanel
from anr_studio.gui.video_export import VideoExport
from anr_studio.gui.viewport import MeshViewport
from anr_studio.gui.workspaces import WORKSPACES, WorkspaceBar, describe_dock_tabs, hide_stale_tab_bars

MAX_RECENT = 8
SAMPLE_MOTION = "walk"
EMPTY_STATE = (  # short enough to show whole beside the 3D view in a 1024x700 window with an 11 pt font
    "<h3>Welcome to ANR Studio</h3>"
    "<p>No avatar is open. From the <b>File</b> menu:</p>"
    "<p><b>Open avatar…</b> a trained <code>.anr</code><br>"
    "<b>Open capture…</b> a <code>.h5</code> to train<br>"
    "<b>Open sample</b>: the demo avatar<br>"
    "<b>Make synthetic capture…</b></p>"
    "<p>or drop a file here, or run <code>anr&#8209;studio synth</code> and <code>train</code> in a terminal.</p>"
)


def settings() -> QtCore.QSettings:
    """Returns the studio's settings store (an INI file under the user's config folder)."""
    return QtCore.QSettings(QtCore.QSettings.Format.IniFormat, QtCore.QSettings.Scope.UserScope, "anr-studio", "studio")


class MainWindow(QtWidgets.QMainWindow):
    """The studio window. Panels are docks; all state lives in Qt-free objects it owns."""

    def __init__(self, body: StudioBody | None = None) -> None:
        # No AnimatedDocks: its animations leave stale tab bars behind after the window resizes.
        docks = QtWidgets.QMainWindow.DockOption.AllowTabbedDocks | QtWidgets.QMainWindow.DockOption.AllowNestedDocks
        super().__init__(windowTitle="ANR Studio", objectName="anrStudioMain", dockOptions=docks)
        apply_dark_theme(QtWidgets.QApplication.instance())
        self.body = body = default_body() if body is None else body
        self.pose_state = PoseState(num_betas=int(body.num_betas))
        self.view_state = ViewState()
        self.paint_state = PaintState(size=256)
        self.avatar = None
        self.avatar_path: str | None = None
        self.unsaved_identities: list[str] = []  # added to the open avatar (fit, try-on), not yet written
        self.jobs = JobList()  # every background job, shown in the status bar with progress and cancel
        self._last_edited = "pose"  # which history Edit ▸ Undo walks

        self.viewport = MeshViewport(body, self.pose_state, self.view_state)
        self.neural = NeuralView(self.pose_state, self.view_state)
        ignored = QtWidgets.QSizePolicy.Policy.Ignored
        self.empty = QtWidgets.QLabel(EMPTY_STATE, objectName="emptyState", wordWrap=True, styleSheet=IMAGE_WELL,
                                      alignment=QtCore.Qt.AlignmentFlag.AlignCenter, textFormat=QtCore.Qt.TextFormat.RichText,
                                      sizePolicy=QtWidgets.QSizePolicy(ignored, ignored))
        self.neural_stack = QtWidgets.QStackedWidget()
        self.neural_stack.addWidget(self.empty)
        self.neural_stack.addWidget(self.neural)
        splitter = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal, accessibleName="3D view or neural view")
        for i, view in enumerate((self.viewport, self.neural_stack)):
            splitter.addWidget(view)
            splitter.setStretchFactor(i, 1)
        splitter.setSizes([600, 600])
        self.setCentralWidget(splitter)

        # The side panels take the full height (as in Blender): posing and painting need it more than
        # the panels below the views need the width.
        self.setCorner(QtCore.Qt.Corner.BottomRightCorner, QtCore.Qt.DockWidgetArea.RightDockWidgetArea)
        self.docks: dict[str, QtWidgets.QDockWidget] = {}
        self._dock_places: dict[str, tuple] = {}
        self._add_panels()
        self.video_export = VideoExport(self)

        self.workspaces = WorkspaceBar(self.docks)
        bar = QtWidgets.QToolBar("Workspaces", self, objectName="workspaceToolBar", movable=False)
        self.addToolBar(bar)
        bar.addWidget(self.workspaces)
        self._build_actions()
        self._build_menus()
        self._build_status()
        self.help_menu = HelpMenu(self)
        self.file_drop = FileDrop(self)
        describe_actions(self)  # after every action exists: each tooltip names its keys
        for menu in self.menuBar().findChildren(QtWidgets.QMenu):
            menu.setToolTipsVisible(True)
        self.pose_state.changed.connect(lambda _w: setattr(self, "_last_edited", "pose"))
        self.neural.ident_box.currentTextChanged.connect(self._show_identity)
        self.paint_state.changed.connect(lambda _b: setattr(self, "_last_edited", "paint"))
        self.recovery = Recovery(self, self.pose_state, self.paint_state)
        self.resize(1400, 860)
        self._restore_settings()
        self.workspaces.show_workspace("Pose")

    # --- layout --------------------------------------------------------------------------
    def _add_dock(self, title: str, widget: QtWidgets.QWidget, area, tab_with: str | None = None) -> None:
        key = title.lower().replace(' ', '_')
        # A panel taller or wider than its dock scrolls, so no panel sets the window's minimum size.
        scroll = QtWidgets.QScrollArea(objectName=f"scroll_{key}", widgetResizable=True, widget=widget,
                                       frameShape=QtWidgets.QFrame.Shape.NoFrame, minimumSize=QtCore.QSize(160, 120))
        dock = QtWidgets.QDockWidget(title, self, objectName=f"dock_{key}", widget=scroll)
        self.docks[title] = dock
        # A dock moved into another group gets a new tab bar: give its tabs their tooltips too.
        dock.dockLocationChanged.connect(lambda _area: QtCore.QTimer.singleShot(0, self, lambda: describe_dock_tabs(self)))
        self._dock_places[title] = (area, tab_with)

    def _apply_default_layout(self) -> None:
        """Places the docks as on first launch: Pose/Try-on tabbed right, the rest tabbed below."""
        # Docks are placed and sized first and tabified last: resizing or filling an area after
        # tabifying leaves a stale, visible copy of the tab bar behind (seen in screenshots).
        for title, dock in self.docks.items():
            dock.setFloating(False)
            self.addDockWidget(self._dock_places[title][0], dock)
            dock.show()
        # Share the window: the panels below get at most 40% of its height, the side panel a third of its width.
        self.resizeDocks([self.docks["Capture"]], [min(300, int(0.4 * self.height()))], QtCore.Qt.Orientation.Vertical)
        self.resizeDocks([self.docks["Pose"]], [min(420, self.width() // 3)], QtCore.Qt.Orientation.Horizontal)
        for title, dock in self.docks.items():
            tab_with = self._dock_places[title][1]
            if tab_with is not None:
                self.tabifyDockWidget(self.docks[tab_with], dock)

    def _add_panels(self) -> None:
        """Adds the pose, capture, keyframes, training and try-on panels (each its own module) as docks."""
        bottom, right = QtCore.Qt.DockWidgetArea.BottomDockWidgetArea, QtCore.Qt.DockWidgetArea.RightDockWidgetArea
        self.pose_panel = PosePanel(self.pose_state, body=self.body)
        self._add_dock("Pose", self.pose_panel, right)
        self.capture_panel = CapturePanel(self.body, self.pose_state, jobs=self.jobs)
        self._add_dock("Capture", self.capture_panel, bottom)
        self.keyframes_panel = KeyframesPanel(self.capture_panel)
        self._add_dock("Keyframes", self.keyframes_panel, bottom, tab_with="Capture")
        self.training_panel = TrainingPanel(jobs=self.jobs)
        self._add_dock("Training", self.training_panel, bottom, tab_with="Capture")
        self.tryon_panel = TryOnPanel(self.body, self.paint_state, self.neural)
        self._add_dock("Try-on", self.tryon_panel, right, tab_with="Pose")
        self.tryon_panel.identity_added.connect(lambda name: self.unsaved_identities.append(name))
        self.tryon_panel.avatar_saved.connect(self._saved_as)
        self.tryon_panel.paint_on_view.toggled.connect(
            lambda on: self.viewport.set_paint_brush(self.tryon_panel.view_painter.brush if on else None))
        self.capture_panel.capture_opened.connect(self.training_panel.add_capture)
        self.capture_panel.capture_opened.connect(self._add_recent)
        self.training_panel.avatar_written.connect(self._on_avatar_written)
        self.training_panel.fit_requested.connect(self.fit_identity)
        self.training_panel.fit_ended.connect(self._on_fit_ended)

    # --- actions and menus ---------------------------------------------------------------
    def _build_actions(self) -> None:
        K = QtGui.QKeySequence.StandardKey
        act = functools.partial(action, self)
        self.act_open_capture = act("Open capture…", lambda: open_file(self, "Open capture", "Captures (*.h5 *.hdf5)",
                                                                       self.open_path), K.Open, "Open a capture (.h5)")
        self.act_open_avatar = act("Open avatar…", lambda: open_file(self, "Open avatar", "Avatars (*.anr)", self.open_path),
                                   "Ctrl+Shift+O", "Open a trained avatar (.anr)")
        self.act_open_sample = act("Open sample", self.open_sample, None,
                                   f"Open the shipped demo avatar and load the {SAMPLE_MOTION} motion")
        self.act_save_avatar = act("Save avatar as…", self.save_avatar_dialog, K.SaveAs,
                                   "Write the open avatar, with the identities added to it, to a file (.anr)")
        self.act_import = act("Import video or folder…", self.capture_panel.import_dialog, "Ctrl+I", "Import a video or an image folder as a capture")
        self.act_synth = act("Make synthetic capture…", self.capture_panel.synth_dialog, "Ctrl+Shift+N", "Write a synthetic capture to train on")
        self.act_export = act("Export video…", self.video_export.dialog, "Ctrl+E", "Render the avatar with a motion to an mp4")
        self.act_quit = act("Quit", self.close, K.Quit, "Close the studio (a running training stops with a checkpoint)")
        self.act_undo = act("Undo", self.undo, K.Undo, "Undo the last pose or painting edit")
        self.act_redo = act("Redo", self.redo, K.Redo, "Redo the edit last undone")
        self.act_redo.setShortcuts(list(dict.fromkeys([*QtGui.QKeySequence.keyBindings(K.Redo), QtGui.QKeySequence("Ctrl+Y"),
                                                        QtGui.QKeySequence("Ctrl+Shift+Z")])))
        self.act_reset_pose = act("Reset pose", self.pose_state.reset_all, "Ctrl+R", "Put every joint, the translation and the shape back to rest")
        self.act_reset_view = act("Reset camera", self.view_state.reset, "Home", "Put the 3D view's camera back to the front view")
        self.act_reset_layout = act("Reset layout", self.reset_layout, tip="Put every panel back where it was on first launch")
        self.act_workspaces = [act(f"{name} workspace", lambda _=False, n=name: self.workspaces.show_workspace(n),
                                   f"Ctrl+{i}", f"Bring the {name} panels to the front")
                               for i, name in enumerate(WORKSPACES, start=1)]
        for i, ws in enumerate(self.act_workspaces):
            self.workspaces.setTabToolTip(i, f"{self.workspaces.tabToolTip(i)} ({ws.shortcut().toString()})")
        # Single letters and arrows act only while the views have the focus: typed into a box they stay text.
        focused = {"shortcutContext": QtCore.Qt.ShortcutContext.WidgetWithChildrenShortcut}
        self.act_skeleton = act("Show skeleton", self.viewport.show_skeleton, "S", "Draw the joints and bones over the mesh",
                                checkable=True, checked=True, **focused)
        self.act_checker = act("UV checker", lambda on: self.set_color_mode("checker" if on else "skin"), "C",
                               "Colour the mesh with a UV checkerboard", checkable=True, **focused)
        self.act_neural_colors = act("Neural texture colours", lambda on: self.set_color_mode("neural" if on else "skin"),
                                     "T", "Colour the mesh with the identity's neural texture (PCA false colour)",
                                     checkable=True, enabled=False, **focused)  # enabled once an avatar is open
        self.centralWidget().addActions([self.act_skeleton, self.act_checker, self.act_neural_colors])
        # At most one colour mode is checked; none checked is plain skin.
        self.color_modes = QtGui.QActionGroup(self)
        self.color_modes.setExclusionPolicy(QtGui.QActionGroup.ExclusionPolicy.ExclusiveOptional)
        self.color_modes.addAction(self.act_checker)
        self.color_modes.addAction(self.act_neural_colors)
        self.act_orbit_left = act("Orbit left", lambda: self.view_state.orbit(-15, 0), "Left",
                                  "Turn the camera 15° left around the body", **focused)
        self.act_orbit_right = act("Orbit right", lambda: self.view_state.orbit(15, 0), "Right",
                                   "Turn the camera 15° right around the body", **focused)
        self.viewport.addActions([self.act_orbit_left, self.act_orbit_right])

    def _build_menus(self) -> None:
        mb = self.menuBar()
        f = fill_menu(mb.addMenu("&File"), self.act_open_capture, self.act_open_avatar, self.act_open_sample,
                      self.act_save_avatar)
        self.recent_menu = f.addMenu("Recent files")
        fill_menu(f, None, self.act_import, self.act_synth, None, self.act_export, None, self.act_quit)
        fill_menu(mb.addMenu("&Edit"), self.act_undo, self.act_redo, None, self.act_reset_pose)
        for title, dock in self.docks.items():
            dock.toggleViewAction().setStatusTip(f"Show or hide the {title} panel")
        fill_menu(mb.addMenu("&View"), self.act_reset_view, self.act_skeleton, self.act_checker, self.act_neural_colors, None,
                  *self.act_workspaces, None, *(dock.toggleViewAction() for dock in self.docks.values()), None,
                  self.act_reset_layout)
        self._refresh_recent()

    def _build_status(self) -> None:
        import torch

        self.job_list = JobListWidget(self.jobs)
        self.device_label = QtWidgets.QLabel(f"GPU: {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else "CPU only")
        self.fps_label = QtWidgets.QLabel("")
        for w in (self.job_list, self.device_label, self.fps_label):
            self.statusBar().addPermanentWidget(w)
        QtCore.QTimer(self, timeout=self._update_status, interval=500).start()

    def _update_status(self) -> None:
        fps = self.viewport.fps
        lat = self.neural.latencies[-1] * 1000 if self.neural.latencies else None
        self.fps_label.setText(f"viewport {fps:.0f} FPS" + (f" · neural {lat:.0f} ms" if lat is not None else ""))

    # --- viewport colours ----------------------------------------------------------------
    def set_color_mode(self, mode: str) -> None:
        """Colours the viewport's mesh by ``mode`` ("skin", "checker" or "neural") and checks its View action."""
        self.act_checker.setChecked(mode == "checker")
        self.act_neural_colors.setChecked(mode == "neural")
        self.viewport.set_color_mode(mode)

    def _show_identity(self, *_args) -> None:
        """Poses the body in the shape of the identity picked in the neural preview (its texture was learnt on it) and
        gives the viewport its neural-texture colours; without them the neural mode is off."""
        avatar, identity = self.avatar, self.neural.identity
        colors = None
        if avatar is not None and identity:
            self.pose_state.set_start_betas(avatar.identity_betas(identity))
            # A tall identity would lose its head out of the default view: the camera frames its body.
            verts, _ = pose_body(self.body, self.pose_state.pose, self.pose_state.betas, self.pose_state.transl)
            self.view_state.frame_heights(float(verts[:, 1].min()), float(verts[:, 1].max()))
            colors = neural_face_colors(avatar.texture(identity), self.body.face_uvs, faces=self.body.faces, smooth=2)
        self.viewport.set_neural_colors(colors)
        self.act_neural_colors.setEnabled(colors is not None)
        if colors is None and self.viewport.color_mode == "neural":
            self.set_color_mode("skin")

    # --- undo/redo -----------------------------------------------------------------------
    def _histories(self) -> tuple:
        return (self.paint_state, self.pose_state) if self._last_edited == "paint" else (self.pose_state, self.paint_state)

    def undo(self) -> None:
        """Undoes the last pose or paint edit (whichever was edited last, then the other)."""
        any(state.undo() for state in self._histories())

    def redo(self) -> None:
        """Redoes in the same order as undo."""
        any(state.redo() for state in self._histories())

    # --- files ---------------------------------------------------------------------------
    @guarded
    def open_path(self, path: str) -> None:
        """Opens an avatar (.anr) or a capture (.h5); AnrError for anything else."""
        p = Path(path)
        try:
            if not p.exists():
                raise AnrError(f"{path}: file not found, expected an avatar (.anr) or a capture (.h5)")
            if p.suffix.lower() == ".anr":
                if not self.confirm_close_avatar():
                    return
                self.set_avatar(open_avatar(str(p), self.body), str(p))
            elif p.suffix.lower() in (".h5", ".hdf5"):
                self.capture_panel.open_capture(str(p))
            else:
                raise AnrError(f"{path}: unknown file type {p.suffix!r}, expected an avatar (.anr) or a capture (.h5)")
        except Exception:
            self._add_recent(str(p), add=False)  # a file that does not open is no recent file
            raise
        self._add_recent(str(p))

    @guarded
    def open_sample(self, _checked: bool = False) -> None:
        """Opens the shipped demo avatar, loads the sample motion and shows the Pose workspace."""
        demo = demo_avatar()
        if demo is None:
            raise AnrError("models/demo.anr: the shipped demo avatar is missing, expected models/*.anr beside the package "
                           "(reinstall ANR Studio)")
        self.open_path.__wrapped__(self, str(demo))
        self.pose_panel.motion_box.setCurrentText(SAMPLE_MOTION)
        self.pose_panel.load_motion.__wrapped__(self.pose_panel, SAMPLE_MOTION)
        self.workspaces.show_workspace("Pose")
        self.statusBar().showMessage(f"Opened the sample avatar {demo.name} with the {SAMPLE_MOTION} motion: press Play "
                                     "in the Pose panel", 10000)

    def set_avatar(self, avatar: StudioAvatar | None, path: str = "") -> None:
        """Shows ``avatar`` (an Avatar, or None for none) in the neural preview, try-on panel and viewport colours."""
        self.avatar, self.avatar_path, self.unsaved_identities = avatar, path, []
        self.neural.set_avatar(avatar)
        self.neural_stack.setCurrentWidget(self.neural)
        self.tryon_panel.set_avatar(avatar)
        self._show_identity()
        self.setWindowTitle(f"ANR Studio — {Path(path).name}" if path else "ANR Studio")

    @guarded
    def save_avatar_dialog(self, _checked: bool = False) -> None:
        """Asks where to write the open avatar and writes it there (to a temporary name, then renamed)."""
        if self.avatar is None:
            raise AnrError("save avatar: no avatar is open, expected File ▸ Open avatar first")
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Save avatar", self.avatar_path or "avatar.anr",
                                                        "Avatars (*.anr)")
        if path:
            self.save_avatar_as(path)

    def save_avatar_as(self, path: str) -> None:
        """Writes the open avatar to ``path``, which it is then opened from (title, recent files, later fits)."""
        save_avatar(self.avatar, path)
        self._saved_as(path)

    def _saved_as(self, path: str) -> None:
        """Takes note that the open avatar, with every identity added to it, was written to ``path``."""
        self.avatar_path, self.unsaved_identities = path, []
        self.setWindowTitle(f"ANR Studio — {Path(path).name}")
        self._add_recent(path)
        self.statusBar().showMessage(f"Wrote {path} ({len(self.avatar.identities)} identities)", 10000)

    @guarded
    def fit_identity(self, _checked: bool = False, name: str | None = None, steps: int | None = None):
        """Fits the person of the open capture into the open avatar as identity ``name`` in ``steps`` in the Training
        panel (either None: a FitDialog asks both); returns the job, None when the user cancels."""
        cap, path = self.capture_panel.capture, self.capture_panel.path
        if self.avatar is None or not self.avatar_path:
            raise AnrError("fit identity: no avatar is open, expected File ▸ Open avatar first (its renderer is kept)")
        if cap is None:
            raise AnrError("fit identity: no capture is open, expected File ▸ Open capture of the new person first")
        if name is None or steps is None:
            asked = FitDialog(self, Path(path).name, Path(self.avatar_path).name, cap.identity,
                              self.avatar.identities).answer()
            if asked is None:
                return None
            name, steps = asked
        return self.training_panel.fit(self.avatar, self.avatar_path, path, name.strip(), steps)

    def _on_fit_ended(self, avatar, name: str, steps: int) -> None:
        """Lists an identity fitted in ``steps`` in the neural view and the try-on pickers and shows it; says when the
        fit added nothing (``steps`` 0: stopped before its first step)."""
        if not steps:
            self.statusBar().showMessage(f"The fit of {name} stopped before its first step: nothing was added to the "
                                         "avatar", 15000)
            return
        if avatar is not self.avatar:
            self.statusBar().showMessage(f"Identity {name} was fitted into an avatar that is no longer open", 15000)
            return
        self.tryon_panel.set_avatar(avatar)
        self.neural.add_identity(name)
        self.neural.ident_box.setCurrentText(name)
        self.unsaved_identities.append(name)
        self.statusBar().showMessage(f"Added identity {name} to the avatar after {steps} steps: File ▸ Save avatar as… "
                                     "writes it", 15000)

    def confirm_close_avatar(self) -> bool:
        """Returns True when the open avatar may be closed: no added identity unsaved (or no window on screen to ask
        in), or the user saved (File ▸ Save avatar as…) or discarded them; False on Cancel or when nothing was saved.
        A running fit is stopped first, as Stop does: the identity it learned so far is one of those asked about (and
        stays in the open avatar, unsaved, on Cancel)."""
        self.training_panel.end_fit()
        if not self.unsaved_identities or not self.isVisible():
            return True
        answer = ask_user(self, "Unsaved identities", f"Save the avatar with the identities added to it "
                          f"({', '.join(self.unsaved_identities)})? {Path(self.avatar_path).name} does not hold them yet.",
                          "Save Discard Cancel", "Save")
        if answer == "Save":
            self.save_avatar_dialog()  # a cancelled file dialog or a failure leaves them unsaved
            return not self.unsaved_identities
        return answer == "Discard"

    def _on_avatar_written(self, path: str) -> None:
        """Opens a finished run's avatar: at once with none open, else only if the user agrees."""
        if self.avatar is None or self.ask_open_new_avatar(path):
            self.open_path(path)

    def ask_open_new_avatar(self, path: str) -> bool:
        """Returns True when the user wants the new avatar ``path`` in place of the open one."""
        return ask_user(self, "Open the new avatar?", f"Training wrote {path}.\n\nOpen the new avatar? "
                        f"{Path(self.avatar_path or 'the open avatar').name} is then closed; it stays on disk and under "
                        "File ▸ Recent files.") == "Yes"

    @staticmethod
    def _recent() -> list[str]:
        recent = settings().value("recent", []) or []
        return [recent] if isinstance(recent, str) else list(recent)  # QSettings gives a single entry as a string

    def _add_recent(self, path: str, add: bool = True) -> None:
        """Puts ``path`` first in File ▸ Recent files, or takes it out of them."""
        settings().setValue("recent", (([path] if add else []) + [p for p in self._recent() if p != path])[:MAX_RECENT])
        self._refresh_recent()

    def _refresh_recent(self) -> None:
        self.recent_menu.clear()
        recent = self._recent()
        for p in recent:
            self.recent_menu.addAction(p, lambda p=p: self.open_path(p))
        self.recent_menu.setEnabled(bool(recent))

    # --- window state --------------------------------------------------------------------
    def tidy_dock_tabs(self) -> None:
        """Hides stale dock tab bars and gives the live ones' tabs their tooltips."""
        hide_stale_tab_bars(self, self.docks)
        describe_dock_tabs(self)

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:  # noqa: N802 - Qt name
        super().resizeEvent(event)
        QtCore.QTimer.singleShot(0, self.tidy_dock_tabs)

    def showEvent(self, event: QtGui.QShowEvent) -> None:  # noqa: N802 - Qt name
        super().showEvent(event)
        QtCore.QTimer.singleShot(0, self.tidy_dock_tabs)

    def reset_layout(self) -> None:
        """Puts every panel back where it was on first launch."""
        for dock in self.docks.values():
            self.removeDockWidget(dock)
        self._apply_default_layout()
        self.workspaces.show_workspace("Pose")
        QtCore.QTimer.singleShot(0, self.tidy_dock_tabs)

    def _restore_settings(self) -> None:
        # Restoring onto docks that were already tabified leaves stale tab bars behind, so a
        # saved layout is applied to untabified docks and the default layout only without one.
        s = settings()
        geo, state = s.value("geometry"), s.value("windowState")
        if geo is not None:
            self.restoreGeometry(geo)
        if state is None:
            self._apply_default_layout()
            return
        for title, dock in self.docks.items():
            self.addDockWidget(self._dock_places[title][0], dock)
        if not self.restoreState(state):
            self.reset_layout()

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:  # noqa: N802 - Qt name
        if not (self.keyframes_panel.confirm_close() and self.tryon_panel.confirm_discard() and self.confirm_close_avatar()):
            event.ignore()
            return
        s = settings()
        self.workspaces.bring_back()  # the saved layout has every panel the user kept open
        s.setValue("geometry", self.saveGeometry())
        s.setValue("windowState", self.saveState())
        # A running training is stopped cleanly so it leaves a loadable checkpoint.
        self.training_panel.shutdown()
        self.jobs.cancel_all()  # waiting a moment for the other jobs, so they leave nothing half-written
        self.neural.shutdown()
        self.recovery.finish()
        super().closeEvent(event)
