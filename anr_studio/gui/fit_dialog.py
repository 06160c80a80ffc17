"""FitDialog: the name and the steps of a new identity's fit, asked in one box."""

from __future__ import annotations

from typing import Sequence

from PySide6 import QtWidgets

from anr_studio.components.avatars import name_problem
from anr_studio.gui.qt_util import form, vbox
from anr_studio.jobs.training_job import FIT_STEPS


class FitDialog(QtWidgets.QDialog):
    """Asks the name of the identity that a fit of the person in ``capture`` adds to ``avatar`` (offered:
    ``identity``, the capture's) and its steps (offered: `FIT_STEPS`, as `anr-studio fit`); OK is off while the name
    is empty or one of ``identities``, and the line above the buttons says why."""

    def __init__(self, parent: QtWidgets.QWidget, capture: str, avatar: str, identity: str,
                 identities: Sequence[str]) -> None:
        super().__init__(parent, windowTitle="Fit identity", objectName="fitDialog")
        self.avatar, self.identities = avatar, list(identities)
        self.name = QtWidgets.QLineEdit(identity, objectName="fitName", toolTip=f"The new identity's name in {avatar}")
        self.steps = QtWidgets.QSpinBox(minimum=1, maximum=10_000_000, value=FIT_STEPS, objectName="fitSteps",
                                        toolTip="Steps of the fit, each a few seconds on a CPU")
        self.reason = QtWidgets.QLabel(objectName="fitReason", styleSheet="color: #f0a050;")
        self.reason.setMinimumHeight(self.reason.fontMetrics().height())  # the box keeps its size as the reason comes and goes
        Btn = QtWidgets.QDialogButtonBox.StandardButton
        buttons = QtWidgets.QDialogButtonBox(Btn.Ok | Btn.Cancel, accepted=self.accept, rejected=self.reject)
        self.ok = buttons.button(Btn.Ok)
        intro = QtWidgets.QLabel(f"Add the person of {capture} to {avatar}: a new neural texture is fitted while "
                                 "the avatar's renderer stays as it is.", wordWrap=True)
        self.setLayout(vbox(intro, form(("Name", self.name), ("Steps", self.steps)), self.reason, buttons))
        self.name.textChanged.connect(self._check)
        self._check()
        self.setMinimumWidth(420)

    def _check(self) -> None:
        problem = name_problem(self.name.text(), self.identities, self.avatar)
        self.reason.setText(f"{problem[:1].upper()}{problem[1:]}." if problem else "")
        self.ok.setEnabled(not problem)

    def answer(self) -> tuple[str, int] | None:
        """Returns (name, steps) once the user pressed OK, None on Cancel."""
        return (self.name.text().strip(), self.steps.value()) if self.exec() else None
