"""consents: bindings and consents derived from the event index, and used login nonces

Revision ID: 0008c
Revises: 0007
Create Date: 2026-11-24 06:30:00.000000

The consent_binding and consent tables are derived from the event index by the consents'
projection (node/consents/projection.py), in the index's own transactions.
"""

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

revision = "0008c"
down_revision = "0007"
branch_labels = None
depends_on = None


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


def downgrade() -> None:
    op.drop_table("login_nonce")
    op.drop_table("consent")
    op.drop_table("consent_binding")
