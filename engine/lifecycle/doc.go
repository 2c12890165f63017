// Package lifecycle manages the apps folder of a Cronbox home: it creates apps
// from a template, switches them on and off, checks them, exports them as
// zip archives and installs, upgrades and uninstalls them.
//
// Every change to <home>/apps is a rename: a new or upgraded app is
// written and checked in <home>/data/staging first and renamed into place,
// and a removed app is renamed out before it is deleted, so an engine that
// watches the folder never sees half an app. A running engine picks the
// change up on its own; nothing needs a restart.
//
// The layout of a home (apps/, data/staging, data/backups, data/exports,
// data/sdk, data/files) is package internal/homedir's.
package lifecycle
