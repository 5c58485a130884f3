"""An API key field: masked by default, with a Show/Hide toggle (words, not an eye icon alone)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLineEdit, QToolButton, QWidget


class KeyField(QWidget):
    """`line_edit` holds the key (Password echo mode); `toggle` reveals it while checked."""

    textChanged = Signal(str)

    def __init__(self, provider_label: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._provider_label = provider_label
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)

        self.line_edit = QLineEdit(self)
        self.line_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.line_edit.setClearButtonEnabled(True)
        self.line_edit.setPlaceholderText("Paste your API key")
        self.line_edit.setInputMethodHints(
            Qt.InputMethodHint.ImhHiddenText
            | Qt.InputMethodHint.ImhSensitiveData
            | Qt.InputMethodHint.ImhNoPredictiveText
            | Qt.InputMethodHint.ImhNoAutoUppercase
        )
        self.line_edit.setAccessibleName(f"{provider_label} API key")
        self.line_edit.setAccessibleDescription(
            f"The API key for {provider_label}. Hidden as you type; use Show to check it."
        )
        self.line_edit.textChanged.connect(self.textChanged)

        self.toggle = QToolButton(self)
        self.toggle.setCheckable(True)
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.toggle.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.toggle.toggled.connect(self._on_toggled)
        self._on_toggled(False)

        layout.addWidget(self.line_edit, 1)
        layout.addWidget(self.toggle)
        self.setFocusProxy(self.line_edit)

    def text(self) -> str:
        return self.line_edit.text()

    def setText(self, text: str) -> None:
        self.line_edit.setText(text)

    def is_revealed(self) -> bool:
        return self.line_edit.echoMode() == QLineEdit.EchoMode.Normal

    def _on_toggled(self, revealed: bool) -> None:
        self.line_edit.setEchoMode(QLineEdit.EchoMode.Normal if revealed else QLineEdit.EchoMode.Password)
        self.toggle.setText("Hide" if revealed else "Show")
        self.toggle.setAccessibleName(f"{'Hide' if revealed else 'Show'} {self._provider_label} API key")
        self.toggle.setAccessibleDescription(
            "The key is visible on screen; press to mask it again."
            if revealed
            else "Reveals the key so you can check what you typed."
        )
        self.toggle.setToolTip(self.toggle.accessibleName())
