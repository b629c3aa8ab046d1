"""A process whose runyard is older than the database's schema refuses to start, naming both."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from runyard.persistence import migrate
from runyard.persistence.engine import create_engine


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_a_schema_from_a_newer_runyard_is_a_clear_error(
    request: pytest.FixtureRequest, database: str
) -> None:
    engine = create_engine(str(request.getfixturevalue(f"{database}_url")))
    try:
        await migrate.upgrade(engine)
        async with engine.begin() as conn:
            await conn.execute(text(f"UPDATE {migrate.VERSION_TABLE} SET version_num = '9999'"))
        with pytest.raises(migrate.SchemaTooNewError, match=r"revision 9999.*knows up to 0005"):
            await migrate.upgrade(engine)
        async with engine.connect() as conn:
            version = (await conn.execute(text(f"SELECT version_num FROM {migrate.VERSION_TABLE}"))).scalar()
        assert version == "9999"  # nothing was touched
    finally:
        await engine.dispose()
