"""Rules every command area follows so its events take the one answering path."""

from __future__ import annotations

import importlib
import inspect

import pytest
from discord import app_commands
from discord.ext import commands
from discord.ui import DynamicItem

from bot.bot_class import EXTENSIONS
from bot.routed_items import RoutedItem, RoutedModal
from bot.router import COMMAND_AREAS


def members(kind: type) -> list[type]:
    found = []
    for extension in EXTENSIONS:
        package = importlib.import_module(extension)
        for name in getattr(package, "__all__", None) or dir(package):
            value = getattr(package, name)
            if inspect.isclass(value) and issubclass(value, kind) and value is not kind:
                found.append(value)
        for module_name in ("_cog", "_views"):
            with_module = f"{extension}.{module_name}"
            try:
                module = importlib.import_module(with_module)
            except ModuleNotFoundError:
                continue
            found += [
                v
                for v in vars(module).values()
                if inspect.isclass(v) and issubclass(v, kind) and v is not kind
            ]
    return sorted(set(found), key=lambda c: c.__qualname__)


COGS = members(commands.Cog)
ITEMS = members(DynamicItem)


def test_the_areas_are_found():
    assert [c.__name__ for c in COGS] == [
        "ChatCommands",
        "ImageCommands",
        "UtilityCommands",
        "VideoCommands",
    ]
    assert [c.__name__ for c in ITEMS] == ["CancelButton", "ImageButton", "RefreshStatusButton"]


@pytest.mark.parametrize("cog", COGS, ids=lambda c: c.__name__)
def test_every_autocomplete_callback_is_guarded(cog):
    for command in cog.__cog_app_commands__:
        assert isinstance(command, app_commands.Command)
        for param in command._params.values():
            if param.autocomplete is not None:
                assert getattr(param.autocomplete, "__mib_guarded__", False), (
                    f"/{command.name} {param.name}: wrap it in @guarded_autocomplete"
                )


@pytest.mark.parametrize("item", ITEMS, ids=lambda c: c.__name__)
def test_every_component_routes_like_a_known_command(item):
    assert issubclass(item, RoutedItem), "components must take the answering path"
    assert item.__mro__.index(RoutedItem) < item.__mro__.index(DynamicItem)
    assert item.area_command in COMMAND_AREAS


def test_routed_modals_route_like_a_known_command():
    for modal in RoutedModal.__subclasses__():
        assert modal.area_command in COMMAND_AREAS
