-- The export streams every payment in creation order: with this index the
-- first row leaves at once, at any table size, instead of after a full sort.
CREATE INDEX payments_created ON payments (created_at, id);
