package contract

// MaxBatchRecords bounds the records of one usage batch (POST
// /api/v1/usage): billing refuses a larger batch.
const MaxBatchRecords = 1000
