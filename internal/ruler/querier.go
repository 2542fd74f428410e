package ruler

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
)

// Querier answers PromQL: the embedded store (Engine) or an external data
// source (datasource.Client).
type Querier interface {
	// Query evaluates expr at t; a scalar comes back as one sample with
	// no labels, as rule evaluation takes it.
	Query(ctx context.Context, expr string, t time.Time) (promql.Vector, error)
	// QueryRange evaluates expr at every step from start to end.
	QueryRange(ctx context.Context, expr string, start, end time.Time, step time.Duration) (promql.Matrix, error)
}

// Engine is a Querier over a promql engine and a queryable: the embedded
// metric store.
type Engine struct {
	Engine    promql.QueryEngine
	Queryable storage.Queryable
}

// Query evaluates expr at t.
func (e Engine) Query(ctx context.Context, expr string, t time.Time) (promql.Vector, error) {
	q, err := e.Engine.NewInstantQuery(ctx, e.Queryable, nil, expr, t)
	if err != nil {
		return nil, err
	}
	defer q.Close()
	res := q.Exec(ctx)
	if res.Err != nil {
		return nil, res.Err
	}
	switch v := res.Value.(type) {
	case promql.Vector:
		return v, nil
	case promql.Scalar:
		return promql.Vector{{T: v.T, F: v.V, Metric: labels.EmptyLabels()}}, nil
	default:
		return nil, errors.New("the expression gives a " + string(res.Value.Type()) + ", not an instant vector or a scalar")
	}
}

// QueryRange evaluates expr from start to end every step.
func (e Engine) QueryRange(ctx context.Context, expr string, start, end time.Time, step time.Duration) (promql.Matrix, error) {
	q, err := e.Engine.NewRangeQuery(ctx, e.Queryable, nil, expr, start, end, step)
	if err != nil {
		return nil, err
	}
	defer q.Close()
	res := q.Exec(ctx)
	if res.Err != nil {
		return nil, res.Err
	}
	switch v := res.Value.(type) {
	case promql.Matrix:
		return v, nil
	default:
		return nil, errors.New("the expression gives a " + string(res.Value.Type()) + " over a range, not a matrix")
	}
}
