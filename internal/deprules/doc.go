// Package deprules holds no code: its test runs go list and checks the
// import rules between Aerolith's packages (ARCHITECTURE.md, "Package
// boundaries"), naming the offending import path and how it is reached.
package deprules
