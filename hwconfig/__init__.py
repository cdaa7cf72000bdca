"""hwconfig: chip descriptions and the samna-compatible chip configuration model.

Depends on numpy only: importing it imports neither torch nor samna.
"""

from hwconfig.chips import CHIPS, UnknownChipError, get_chip, parse_device
from hwconfig.config import (
    BoolVec2,
    ChipConfig,
    CnnLayerConfig,
    CnnLayerDestination,
    CnnLayerDimensions,
    DvsDestination,
    DvsFilterConfig,
    DvsLayerConfig,
    FactoryConfig,
    IOShape,
    ReadoutConfig,
    Vec2,
)
from hwconfig.errors import ConfigError
from hwconfig.json_io import LoadedConfig, Provenance, config_hash, load_config, save_config
from hwconfig.samna_env import SamnaStatus, detect_samna
from hwconfig.spec import ChipSpec, CoreSpec
from hwconfig.validate import validate_config

__version__ = "0.1.0"

__all__ = [
    "CHIPS",
    "BoolVec2",
    "ChipConfig",
    "ChipSpec",
    "CnnLayerConfig",
    "CnnLayerDestination",
    "CnnLayerDimensions",
    "ConfigError",
    "CoreSpec",
    "DvsDestination",
    "DvsFilterConfig",
    "DvsLayerConfig",
    "FactoryConfig",
    "IOShape",
    "LoadedConfig",
    "Provenance",
    "ReadoutConfig",
    "SamnaStatus",
    "UnknownChipError",
    "Vec2",
    "__version__",
    "config_hash",
    "detect_samna",
    "get_chip",
    "load_config",
    "parse_device",
    "save_config",
    "validate_config",
]
