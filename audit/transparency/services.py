"""Writes of the transparency log: signing and publishing tree heads."""

from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from sightline_verifier.merkle import TreeBuilder

from audit.models import (
    LogState,
    SignedTreeHead,
)
from audit.transparency import signing, witnesses


def publish_tree_head(*, force: bool = False) -> SignedTreeHead | None:
    """Sign and store the head of the log as it is now, if it grew since the last head.

    Returns the new head, or None when the log has not grown (or another writer published the
    same size first). `force` publishes even an empty log's first head.
    """
    with transaction.atomic():
        state = LogState.objects.get(id=1)
        last = SignedTreeHead.objects.order_by("-tree_size").first()
        if last is not None and last.tree_size >= state.size:
            return None
        if last is None and state.size == 0 and not force:
            return None
        _check_witness(state.size)
        tree = TreeBuilder.from_frontier((level, bytes.fromhex(h)) for level, h in state.frontier)
        head = signing.sign_tree_head(tree_size=state.size, root_hash=tree.root().hex())
        try:
            with transaction.atomic():
                stored = SignedTreeHead.objects.create(**head, published_at=timezone.now())
        except IntegrityError:
            return None
        # The witness file outside the database follows the head once it is committed.
        transaction.on_commit(lambda: signing.write_witness(head))
        # Then the independent witnesses are asked to cosign its checkpoint, in the background.
        transaction.on_commit(witnesses.submit_after_publish, robust=True)
        return stored


def _check_witness(size: int) -> None:
    """Refuse to sign a head that forks from the head kept in the witness file.

    After a restore from an old backup the log would otherwise grow again under the same
    sizes and sign different roots for them, and the witness (the evidence) would be replaced.
    """
    from audit.transparency.selectors import (
        root_at,  # selectors never import services; this keeps it so
    )

    witness = signing.read_witness()
    if witness is None:
        return
    published = f"tree head {witness['tree_size']} published at {witness['timestamp']}"
    if witness["tree_size"] > size:
        raise signing.WitnessConflict(
            f"Not publishing: the database holds {size} entries but {published} "
            f"({signing.witness_path()}). Run manage.py verify_log."
        )
    if root_at(witness["tree_size"]).hex() != witness["root_hash"]:
        raise signing.WitnessConflict(
            f"Not publishing: the log does not match {published} ({signing.witness_path()}). "
            "Run manage.py verify_log."
        )


def publish_tree_head_if_due() -> SignedTreeHead | None:
    """Publish a head when the log has grown and the last head is older than the interval."""
    last = SignedTreeHead.objects.order_by("-tree_size").only("published_at", "tree_size").first()
    interval = timedelta(seconds=settings.SIGHTLINE_TREE_HEAD_INTERVAL)
    if last is not None and timezone.now() - last.published_at < interval:
        return None
    return publish_tree_head()
