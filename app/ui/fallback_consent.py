"""Asking before another provider writes: "Groq's daily limit is reached. Use Gemini for this script?"

The dialog is window-modal but never blocks: it is shown with `open()` and the answer is awaited through a
future set from the buttons, so the qasync loop (and the rate-limit countdown) keeps running while it is up.
"Always" is persisted by the service; this module only returns the answer: "once", "always" or "cancel".
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.ui.status_texts import possessive, provider_label
from app.ui.widgets.labels import MutedLabel

ConsentAnswer = Literal["once", "always", "cancel"]


def _label(name: str | None) -> str:
    return provider_label(name) if name else "The provider"


def consent_question(proposal: Any) -> str:
    """The question, worded after why the first provider cannot write the script."""
    source = _label(getattr(proposal, "from_provider", None))
    target = _label(getattr(proposal, "to_provider", None))
    error = getattr(proposal, "error", None)
    code = str(getattr(getattr(error, "code", None), "value", getattr(error, "code", "")) or "")
    window = getattr(error, "window", None)
    daily = bool(getattr(window, "is_daily", False))
    if code == "QUOTA_EXHAUSTED" or daily:
        reason = f"{possessive(source)} daily limit is reached."
    elif code == "RATE_LIMIT_EXCEEDED":
        reason = f"{source} is rate-limited right now."
    elif code == "AUTHENTICATION_FAILED":
        reason = f"{source} rejected the API key."
    elif code in ("NETWORK_ERROR", "PROVIDER_UNAVAILABLE"):
        reason = f"{source} can't be reached."
    elif code == "MODEL_NOT_FOUND":
        reason = f"{source} doesn't have the chosen model."
    else:
        reason = f"{source} can't write this script."
    return f"{reason} Use {target} for this script?"


class FallbackConsentDialog(QDialog):
    """[Once] [Always] [Cancel]; `answer()` opens it and returns what the user chose."""

    def __init__(self, proposal: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("fallbackConsentDialog")
        self.setWindowTitle("Use another provider?")
        self.proposal = proposal
        self._future: asyncio.Future[ConsentAnswer] | None = None
        self._choice: ConsentAnswer = "cancel"
        target = _label(getattr(proposal, "to_provider", None))
        source = _label(getattr(proposal, "from_provider", None))

        layout = QVBoxLayout(self)
        layout.setContentsMargins(22, 20, 22, 18)
        layout.setSpacing(10)
        self.question = QLabel(consent_question(proposal), self)
        self.question.setObjectName("consentQuestion")
        self.question.setWordWrap(True)
        font = self.question.font()
        font.setPointSizeF(font.pointSizeF() + 1.5)
        font.setWeight(font.Weight.DemiBold)
        self.question.setFont(font)
        layout.addWidget(self.question)

        error = getattr(proposal, "error", None)
        detail = str(error) if error is not None else ""
        self.detail = MutedLabel(
            (f"{detail}\n\n" if detail else "")
            + f"Once: {target} writes this script only. Always: switch to {target} whenever {source} "
            "can't, without asking again (change it in Settings).",
            self,
        )
        self.detail.setObjectName("consentDetail")
        layout.addWidget(self.detail)
        layout.addSpacing(6)

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setObjectName("consentCancelButton")
        self.always_button = QPushButton("Always", self)
        self.always_button.setObjectName("consentAlwaysButton")
        self.always_button.setToolTip(f"Use {target} whenever {source} can't, from now on")
        self.once_button = QPushButton("Once", self)
        self.once_button.setObjectName("consentOnceButton")
        self.once_button.setToolTip(f"Use {target} for this script only")
        self.once_button.setDefault(True)
        self.once_button.setAutoDefault(True)
        for button in (self.cancel_button, self.always_button, self.once_button):
            buttons.addWidget(button)
        layout.addLayout(buttons)

        self.once_button.clicked.connect(lambda: self._choose("once"))
        self.always_button.clicked.connect(lambda: self._choose("always"))
        self.cancel_button.clicked.connect(lambda: self._choose("cancel"))
        self.finished.connect(self._on_finished)
        self.setMinimumWidth(440)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)

    def _choose(self, choice: ConsentAnswer) -> None:
        self._choice = choice
        if choice == "cancel":
            self.reject()
        else:
            self.accept()

    def _on_finished(self, _result: int) -> None:
        if self._future is not None and not self._future.done():
            self._future.set_result(self._choice)

    async def answer(self) -> ConsentAnswer:
        """Open the dialog (window-modal, non-blocking) and await the choice; Esc or closing is "cancel"."""
        self._future = asyncio.get_running_loop().create_future()
        self._choice = "cancel"
        self.open()
        self.once_button.setFocus()
        try:
            return await self._future
        except asyncio.CancelledError:
            self._choice = "cancel"
            self.reject()
            raise
        finally:
            pass  # self.deleteLater()


async def ask_fallback_consent(proposal: Any, parent: QWidget | None = None) -> ConsentAnswer:
    return await FallbackConsentDialog(proposal, parent).answer()
