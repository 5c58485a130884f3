"""The Qt-free core: provider interface, adapters, guards and the script service."""
