// Package storetest gives tests real stores and holds the contract suite
// every didrouter.Store implementation must pass.
//
// Postgres(t) gives a test its own freshly migrated database on the server
// named by TEST_DATABASE_URL (or DATABASE_URL): the schema is migrated once
// into a template database named after the migrations' hash, and each test
// gets CREATE DATABASE … TEMPLATE, dropped when the test ends. SQLite(t)
// gives a store on a file in t.TempDir().
package storetest
