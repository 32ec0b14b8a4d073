"""The plugin manager: built-in plugins, the ``tokenguard`` entry points, and the app's own."""

from __future__ import annotations

from collections.abc import Iterable

import pluggy

from tokenguard import hookspecs

PROJECT_NAME = "tokenguard"
#: Built-in behaviour, registered exactly as a third-party plugin would be.
DEFAULT_PLUGINS = ("tokenguard.stores.builtin", "tokenguard.audit")


def make_plugin_manager(
    plugins: Iterable[object] = (), *, load_entry_points: bool = True
) -> pluggy.PluginManager:
    """A manager with the hook specs, the default plugins, installed ones, then ``plugins``."""
    import importlib

    manager = pluggy.PluginManager(PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    for name in DEFAULT_PLUGINS:
        manager.register(importlib.import_module(name), name=name)
    if load_entry_points:
        manager.load_setuptools_entrypoints(PROJECT_NAME)
    for plugin in plugins:
        if not manager.is_registered(plugin):
            manager.register(plugin)
    return manager
