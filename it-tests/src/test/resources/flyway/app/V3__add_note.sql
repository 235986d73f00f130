-- Add a column, then fill it, in one migration (one transaction).
ALTER TABLE item ADD COLUMN note TEXT;
UPDATE item SET note = 'note ' || id;
