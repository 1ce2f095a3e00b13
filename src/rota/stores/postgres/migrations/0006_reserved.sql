-- Placeholder in branch h14-dashboard only: version 6 belongs to a migration of another
-- branch merged before this one (migrations must be numbered without gaps). The merge
-- replaces this file with that migration; it must never ship.
SELECT 1;
