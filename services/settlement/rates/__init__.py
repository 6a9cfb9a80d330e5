"""Reference exchange rates: fetched daily from a published source, stored, and used to convert debts."""
