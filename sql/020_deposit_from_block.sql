-- A SHKeeper pay-in's first block: the chain's head, less its confirmation
-- depth, just before SHKeeper was asked for the invoice and its deposit
-- address. No transfer to that address can be in an older block, so
-- confirm-transaction searches the buyer's earlier transfers from here
-- instead of guessing how far back to look. NULL: not known (the chain could
-- not be asked then, or the pay-in is older than this column).
ALTER TABLE payments ADD COLUMN deposit_from_block bigint CHECK (deposit_from_block >= 0);
