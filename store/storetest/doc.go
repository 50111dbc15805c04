// Package storetest gives tests real stores and holds the contract suite
// every didrouter.Store implementation must pass.
//
// Postgres(t) gives a test its own freshly migrated database on the server
// that TEST_DATABASE_URL names, else DATABASE_URL. The schema is migrated
// once into a template database named after the migrations' hash. Each
// test gets CREATE DATABASE … TEMPLATE, dropped when the test ends.
// SQLite(t) gives a store on a file in t.TempDir().
package storetest
