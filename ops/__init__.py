"""Operations: the cluster's status and health, the housekeeping checks whose results become operator alerts."""
