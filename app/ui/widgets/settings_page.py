"""The frame every settings page shares: a vertical scroll area holding a padded body under a large title."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QVBoxLayout, QWidget


def prepare_settings_page(scroll: QScrollArea, title: str) -> tuple[QWidget, QVBoxLayout]:
    """Style `scroll` as a settings page and give it a body with the page's title; returns (body, layout)."""
    scroll.setObjectName("settingsScroll")
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    body = QWidget()
    body.setObjectName("settingsPageBody")
    page = QVBoxLayout(body)
    page.setContentsMargins(20, 18, 20, 12)
    page.setSpacing(12)
    heading = QLabel(title, body)
    font = heading.font()
    font.setBold(True)
    if font.pointSizeF() > 0:
        font.setPointSizeF(font.pointSizeF() + 5)
    heading.setFont(font)
    page.addWidget(heading)
    scroll.setWidget(body)
    return body, page
