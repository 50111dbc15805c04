package sqlstore

import (
	"context"

	"github.com/didrouter/didrouter"
)

const bindingCols = `phone_number, workspace_sid, workflow_sid`

func scanBinding(r Row) (didrouter.PhoneNumberBinding, error) {
	var b didrouter.PhoneNumberBinding
	err := r.Scan(&b.PhoneNumber, &b.WorkspaceSID, &b.WorkflowSID)
	return b, err
}

func (q *Queries) GetBinding(ctx context.Context, e164 string) (didrouter.PhoneNumberBinding, error) {
	return getShared(ctx, q, scanBinding, "binding for phone number", e164,
		`SELECT `+bindingCols+` FROM phone_number_bindings WHERE phone_number = $1`, e164)
}

func (q *Queries) ListBindings(ctx context.Context, workspaceSID string) ([]didrouter.PhoneNumberBinding, error) {
	return list(ctx, q, scanBinding, "bindings",
		`SELECT `+bindingCols+` FROM phone_number_bindings WHERE workspace_sid = $1 ORDER BY phone_number`, workspaceSID)
}

// PutBinding creates or replaces the binding of b.PhoneNumber; ECONFLICT when
// the number is bound in another workspace.
func (t *Tx) PutBinding(ctx context.Context, b didrouter.PhoneNumberBinding) error {
	if b.PhoneNumber == "" {
		return didrouter.Errorf(didrouter.EINVALID, "a binding needs a phone number")
	}
	n, err := t.db.Exec(ctx, `INSERT INTO phone_number_bindings (`+bindingCols+`) VALUES ($1, $2, $3)
		ON CONFLICT (phone_number) DO UPDATE SET workflow_sid = excluded.workflow_sid
		WHERE phone_number_bindings.workspace_sid = excluded.workspace_sid`,
		b.PhoneNumber, b.WorkspaceSID, b.WorkflowSID)
	if err != nil {
		return t.insertError(err, "binding for phone number", b.PhoneNumber, b.WorkspaceSID)
	}
	if n == 0 {
		return didrouter.Errorf(didrouter.ECONFLICT, "phone number %s is bound in another workspace", b.PhoneNumber)
	}
	return t.notifyBindings(ctx, b.WorkspaceSID)
}

// notifyBindings tells every instance to forget its cached bindings: one
// change per transaction, however many numbers a bulk import binds.
func (t *Tx) notifyBindings(ctx context.Context, workspaceSID string) error {
	return t.Notify(ctx, didrouter.Change{Kind: didrouter.ChangeBinding, WorkspaceSID: workspaceSID})
}

func (t *Tx) DeleteBinding(ctx context.Context, e164 string) error {
	if err := t.execOne(ctx, "binding for phone number", e164, `DELETE FROM phone_number_bindings WHERE phone_number = $1`, e164); err != nil {
		return err
	}
	return t.notifyBindings(ctx, "")
}
