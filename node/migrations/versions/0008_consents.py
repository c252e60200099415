"""consents: bindings and consents derived from the event index, and used login nonces

Revision ID: 0008c
Revises: 0007
Create Date: 2026-11-24 06:30:00.000000

The consent_binding and consent tables are written by triggers on chain_event: an inserted
Bound / ConsentRegistered event adds a row, Unbound / ConsentRevoked marks it, and deleting
any of those events (a reorg, a rebuild) undoes exactly what it did.
"""

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

revision = "0008c"
down_revision = "0007"
branch_labels = None
depends_on = None

_SOURCE = "NEW.contract = 'ConsentRegistry' AND NEW.event = '{event}'"
_GONE = "OLD.contract = 'ConsentRegistry' AND OLD.event = '{event}'"
_TRIGGERS: dict[str, tuple[str, str, str]] = {
    # name: (INSERT or DELETE, the event, the statement)
    "consent_bound": (
        "INSERT",
        "Bound",
        """
        INSERT INTO consent_binding (block_number, log_index, subject_key, borrower, member,
            tx_hash, block_time)
        VALUES (NEW.block_number, NEW.log_index, json_extract(NEW.args, '$.subjectKey'),
            json_extract(NEW.args, '$.borrower'), json_extract(NEW.args, '$.member'),
            NEW.tx_hash, NEW.block_time);""",
    ),
    "consent_unbound": (
        "INSERT",
        "Unbound",
        """
        UPDATE consent_binding SET unbound_block = NEW.block_number,
            unbound_log_index = NEW.log_index, unbound_tx_hash = NEW.tx_hash,
            unbound_time = NEW.block_time, unbound_by = json_extract(NEW.args, '$.member')
        WHERE borrower = json_extract(NEW.args, '$.borrower')
            AND subject_key = json_extract(NEW.args, '$.subjectKey')
            AND unbound_block IS NULL;""",
    ),
    "consent_bound_gone": (
        "DELETE",
        "Bound",
        """
        DELETE FROM consent_binding
        WHERE block_number = OLD.block_number AND log_index = OLD.log_index;""",
    ),
    "consent_unbound_gone": (
        "DELETE",
        "Unbound",
        """
        UPDATE consent_binding SET unbound_block = NULL, unbound_log_index = NULL,
            unbound_tx_hash = NULL, unbound_time = NULL, unbound_by = NULL
        WHERE unbound_block = OLD.block_number AND unbound_log_index = OLD.log_index;""",
    ),
    "consent_registered": (
        "INSERT",
        "ConsentRegistered",
        """
        INSERT OR REPLACE INTO consent (consent_id, subject_key, grantee, block_number,
            log_index)
        VALUES (json_extract(NEW.args, '$.consentId'), json_extract(NEW.args, '$.subjectKey'),
            json_extract(NEW.args, '$.grantee'), NEW.block_number, NEW.log_index);""",
    ),
    "consent_revoked": (
        "INSERT",
        "ConsentRevoked",
        """
        UPDATE consent SET revoked_block = NEW.block_number,
            revoked_log_index = NEW.log_index, revoked_at = NEW.block_time,
            revoked_tx_hash = NEW.tx_hash
        WHERE consent_id = json_extract(NEW.args, '$.consentId');""",
    ),
    "consent_registered_gone": (
        "DELETE",
        "ConsentRegistered",
        """
        DELETE FROM consent
        WHERE block_number = OLD.block_number AND log_index = OLD.log_index;""",
    ),
    "consent_revoked_gone": (
        "DELETE",
        "ConsentRevoked",
        """
        UPDATE consent SET revoked_block = NULL, revoked_log_index = NULL,
            revoked_at = NULL, revoked_tx_hash = NULL
        WHERE revoked_block = OLD.block_number AND revoked_log_index = OLD.log_index;""",
    ),
}


def upgrade() -> None:
    op.create_table(
        "consent_binding",
        sa.Column("block_number", sa.Integer(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("subject_key", AutoString(), nullable=False),
        sa.Column("borrower", AutoString(), nullable=False),
        sa.Column("member", AutoString(), nullable=False),
        sa.Column("tx_hash", AutoString(), nullable=False),
        sa.Column("block_time", sa.Integer(), nullable=False),
        sa.Column("unbound_block", sa.Integer(), nullable=True),
        sa.Column("unbound_log_index", sa.Integer(), nullable=True),
        sa.Column("unbound_tx_hash", AutoString(), nullable=True),
        sa.Column("unbound_time", sa.Integer(), nullable=True),
        sa.Column("unbound_by", AutoString(), nullable=True),
        sa.PrimaryKeyConstraint("block_number", "log_index"),
    )
    with op.batch_alter_table("consent_binding", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_consent_binding_subject_key"), ["subject_key"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_consent_binding_borrower"), ["borrower"], unique=False)
    op.create_table(
        "consent",
        sa.Column("consent_id", AutoString(), nullable=False),
        sa.Column("subject_key", AutoString(), nullable=False),
        sa.Column("grantee", AutoString(), nullable=False),
        sa.Column("block_number", sa.Integer(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("revoked_block", sa.Integer(), nullable=True),
        sa.Column("revoked_log_index", sa.Integer(), nullable=True),
        sa.Column("revoked_at", sa.Integer(), nullable=True),
        sa.Column("revoked_tx_hash", AutoString(), nullable=True),
        sa.PrimaryKeyConstraint("consent_id"),
    )
    with op.batch_alter_table("consent", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consent_subject_key"), ["subject_key"], unique=False)
    op.create_table(
        "login_nonce",
        sa.Column("nonce", AutoString(), nullable=False),
        sa.Column("subject_key", AutoString(), nullable=False),
        sa.Column("used_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("nonce"),
    )
    with op.batch_alter_table("login_nonce", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_nonce_used_at"), ["used_at"], unique=False)
    for name, (when, event, statement) in _TRIGGERS.items():
        condition = (_SOURCE if when == "INSERT" else _GONE).format(event=event)
        op.execute(
            f"CREATE TRIGGER {name} AFTER {when} ON chain_event "
            f"WHEN {condition} BEGIN {statement} END"
        )
    # events indexed before this revision go through the triggers too, in chain order
    op.execute(
        "CREATE TEMP TABLE replay AS SELECT * FROM chain_event WHERE contract = 'ConsentRegistry'"
    )
    op.execute("DELETE FROM chain_event WHERE contract = 'ConsentRegistry'")
    op.execute("INSERT INTO chain_event SELECT * FROM replay ORDER BY block_number, log_index")
    op.execute("DROP TABLE replay")


def downgrade() -> None:
    for name in _TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table("login_nonce")
    op.drop_table("consent")
    op.drop_table("consent_binding")
