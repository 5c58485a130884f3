"""Small widgets shared by the settings dialog and the rate-limit panel."""

from app.ui.widgets.busy import BusyIndicator
from app.ui.widgets.key_field import KeyField
from app.ui.widgets.labels import ElidedLabel, MutedLabel, SectionHeading, muted_color

__all__ = ["BusyIndicator", "ElidedLabel", "KeyField", "MutedLabel", "SectionHeading", "muted_color"]
