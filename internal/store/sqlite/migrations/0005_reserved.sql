-- Reserved: a migration another branch adds; replaced when it lands.
SELECT 1;
