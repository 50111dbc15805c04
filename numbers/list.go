package numbers

import (
	"context"
	"sort"
)

// Listed is a number of the account with the workers that own it.
type Listed struct {
	Incoming
	// Owners is nil when owners were not looked up, empty when no worker
	// has the number as its DID.
	Owners []Owner `json:"owners"`
}

// Listing is the account's numbers, and the DIDs of workers that the
// account does not have (those workers' calls cannot arrive).
type Listing struct {
	Numbers        []Listed `json:"numbers"`
	OwnersLookedUp bool     `json:"owners_looked_up"`
	Orphans        []Owner  `json:"workers_with_numbers_not_on_account"`
}

// List returns the account's numbers; with dir, each with its owners.
func (a *Account) List(ctx context.Context, dir *Directory) (Listing, error) {
	all, err := a.Incoming(ctx)
	if err != nil {
		return Listing{}, err
	}
	var owners map[string][]Owner
	if dir != nil {
		if owners, err = dir.Owners(ctx); err != nil {
			return Listing{}, err
		}
	}
	l := Listing{Numbers: make([]Listed, 0, len(all)), OwnersLookedUp: dir != nil, Orphans: []Owner{}}
	onAccount := map[string]bool{}
	for _, n := range all {
		onAccount[n.PhoneNumber] = true
		it := Listed{Incoming: n}
		if dir != nil {
			it.Owners = append([]Owner{}, owners[n.PhoneNumber]...)
		}
		l.Numbers = append(l.Numbers, it)
	}
	for did, ws := range owners {
		if !onAccount[did] {
			l.Orphans = append(l.Orphans, ws...)
		}
	}
	sort.Slice(l.Orphans, func(i, j int) bool {
		if l.Orphans[i].PhoneNumber != l.Orphans[j].PhoneNumber {
			return l.Orphans[i].PhoneNumber < l.Orphans[j].PhoneNumber
		}
		return l.Orphans[i].WorkerSID < l.Orphans[j].WorkerSID
	})
	return l, nil
}
