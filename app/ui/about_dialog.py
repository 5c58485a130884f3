"""Help > About: the version, what the app is, where its data lives."""

from __future__ import annotations

import platform
from pathlib import Path

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import Qt, qVersion
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app import __version__
from app.ui import theme
from app.ui.widgets.labels import MutedLabel


class AboutDialog(QDialog):
    """Shown with `open()`; closes with the button or Esc."""

    def __init__(self, parent: QWidget | None = None, *, data_dir: Path | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("aboutDialog")
        self.setWindowTitle("About Scriptwright")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 22, 24, 16)
        layout.setSpacing(12)

        header = QHBoxLayout()
        header.setSpacing(16)
        icon_label = QLabel(self)
        icon = theme.app_icon()
        if not icon.isNull():
            icon_label.setPixmap(icon.pixmap(64, 64))
        header.addWidget(icon_label, 0, Qt.AlignmentFlag.AlignTop)
        titles = QVBoxLayout()
        titles.setSpacing(2)
        name = QLabel("Scriptwright", self)
        font = name.font()
        font.setPointSizeF(font.pointSizeF() + 6)
        font.setWeight(font.Weight.DemiBold)
        name.setFont(font)
        self.version_label = QLabel(f"Version {__version__}", self)
        self.version_label.setObjectName("aboutVersion")
        self.version_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        titles.addWidget(name)
        titles.addWidget(self.version_label)
        header.addLayout(titles, 1)
        layout.addLayout(header)

        blurb = QLabel(
            "Write video scripts with the LLM you choose: Ollama on this computer, or Gemini and Groq in the "
            "cloud. Switch at any time, and always see where you stand with each provider's limits.",
            self,
        )
        blurb.setWordWrap(True)
        layout.addWidget(blurb)

        details = [
            f"Qt {qVersion()} · PySide6 {pyside_version} · Python {platform.python_version()}",
        ]
        if data_dir is not None:
            details.append(f"Your scripts and settings: {data_dir}")
        detail_label = MutedLabel("\n".join(details), self)
        detail_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(detail_label)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.setMinimumWidth(460)
