-- realtime_0003: realtime.enable(table, topic_template) derives the log's rule from the table's
-- own SELECT policies (realtime.policy_rule(), realtime.create_visibility_function()); the
-- explicit visibility function stays (now an optional third argument), and all_rows_visible =>
-- true enables a table without row level security; realtime.check() tells whether each
-- table's rule still agrees with its policies; an auth schema with auth.uid(), auth.jwt() and
-- auth.role() where the database has none, for Supabase-style policies; the log's policy of a
-- long table name no longer cut at 63 bytes (realtime.log_policy_name()). Idempotent: a fresh
-- install applies sql/realtime.sql, which has all of this, and then this file.

-- Supabase-style policies (`using (auth.uid() = user_id)`) run unchanged: where the database
-- has no auth schema, the engine creates one with auth.uid(), auth.jwt() and auth.role() over
-- the same claims as realtime.uid(), realtime.claims() and realtime.role(). An existing auth
-- schema (Supabase's, or the application's own) is left alone. The schema's comment marks it
-- as the engine's, so that uninstalling removes only what the engine created. The functions
-- read the settings themselves rather than call realtime.*, so that policies using them keep
-- working if they outlive the engine (sql/down/realtime.sql keeps them while policies use them).
do $$
begin
    if exists (select from pg_catalog.pg_namespace where nspname = 'auth') then
        return;
    end if;
    create schema auth;
    comment on schema auth is
        'threadcast: auth.uid(), auth.jwt() and auth.role() for Supabase-style policies (created by the realtime engine where no auth schema existed)';
    grant usage on schema auth to anon, authenticated, threadcast;

    -- The caller's JWT claims (as realtime.claims()).
    create function auth.jwt() returns jsonb
    language sql stable parallel safe
    as $body$
        select coalesce(nullif(pg_catalog.current_setting('request.jwt.claims', true), ''),
                        '{}')::jsonb
    $body$;

    -- The caller's user id, or null when `sub` is missing or not a uuid (as realtime.uid()).
    create function auth.uid() returns uuid
    language sql stable parallel safe
    as $body$
        select case
            when coalesce(nullif(pg_catalog.current_setting('request.jwt.claim.sub', true), ''),
                          auth.jwt() ->> 'sub')
                 operator(pg_catalog.~*) '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$'
            then coalesce(nullif(pg_catalog.current_setting('request.jwt.claim.sub', true), ''),
                          auth.jwt() ->> 'sub')::uuid
        end
    $body$;

    -- The caller's role claim (as realtime.role()).
    create function auth.role() returns text
    language sql stable parallel safe
    as $body$
        select auth.jwt() ->> 'role'
    $body$;

    grant execute on function auth.jwt(), auth.uid(), auth.role()
        to anon, authenticated, threadcast;
end
$$;

-- Where each table's rule came from (see sql/realtime.sql).
alter table realtime.tables
    add column if not exists rule text not null default 'explicit'
        check (rule in ('explicit', 'derived', 'all rows')),
    add column if not exists derived_rule text;

-- One enable() with an optional visibility function: a second overload taking a boolean third
-- argument would make enable(t, template, 'f(t)') ambiguous.
drop function if exists realtime.enable(regclass, text, regprocedure);

-- The rule a table's own RLS applies when `authenticated` selects from it, as one boolean SQL
-- expression over a row aliased with the table's name: the table's permissive SELECT and ALL
-- policies for that role (to public, to authenticated, or to a role it inherits) OR'ed, its
-- restrictive ones AND'ed, null counting as not visible, as PostgreSQL combines them. What
-- cannot be judged on an event's row version the way the table judges that row it refuses,
-- naming the policy: a policy reading the table itself (its answer for a row depends on the
-- table's other rows and on that row still being there, which an event read later does not
-- see the same), a volatile function (its answer may differ between the two evaluations), the
-- claims document (auth.jwt(), realtime.claims(): events are read with sub and role only), an
-- expression the row alone cannot carry (a system column), or no permissive policy at all.
-- row_columns lists the columns (attnums) the rule reads when it reads nothing else of the row
-- and has no subquery, so that the generated function can be inlined; otherwise it is null.
create or replace function realtime.policy_rule(tbl regclass, out expression text, out row_columns smallint[])
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
declare
    rel_name text;
    rls boolean;
    policy record;
    permissive text[] := '{}';
    restrictive text[] := '{}';
    referenced smallint[] := '{}';
    inlinable boolean := true;
    volatile_function regprocedure;
    claims_function regprocedure;
    explicit_form text;
begin
    select c.relname, c.relrowsecurity into rel_name, rls from pg_catalog.pg_class c where c.oid = tbl;
    explicit_form := pg_catalog.format(
        'write a function of one %1$s row returning boolean that says who may see it, and pass'
        ' it: realtime.enable(%2$L, topic_template, %3$L)',
        tbl, tbl::text, 'schema.function(' || tbl::text || ')');
    if not rls then
        raise exception 'realtime.enable: table % does not have row level security enabled, so nothing says who may see its rows', tbl
            using errcode = '55000',
                  hint = 'enable row level security and add SELECT policies; or, if every reader may see every row, realtime.enable(table, topic_template, all_rows_visible => true)';
    end if;
    for policy in
        select p.polname, p.polpermissive,
               pg_catalog.pg_get_expr(p.polqual, p.polrelid) as expression,
               p.polqual::text as tree
          from pg_catalog.pg_policy p
         where p.polrelid = tbl
           and p.polcmd in ('r', '*')
           -- A policy without USING admits no row to a SELECT (as in the table's own RLS).
           and p.polqual is not null
           and exists (
               select from pg_catalog.unnest(p.polroles) as r(oid)
                where r.oid = 0 or pg_catalog.pg_has_role('authenticated', r.oid, 'USAGE'))
         order by p.polpermissive desc, p.polname
    loop
        if policy.tree ~ (':relid ' || tbl::oid::text || '\M') then
            raise exception 'realtime.enable: policy % on % reads % itself, so its answer for an event''s row would depend on the table as it is when the event is read',
                pg_catalog.quote_ident(policy.polname), tbl, tbl
                using errcode = '0A000', hint = explicit_form;
        end if;
        select f.oid::regprocedure into volatile_function
          from pg_catalog.regexp_matches(policy.tree, ':(?:funcid|opfuncid|aggfnoid|winfnoid) (\d+)', 'g') as m
          join pg_catalog.pg_proc f on f.oid = m[1]::oid
         where f.provolatile = 'v'
         limit 1;
        if found then
            raise exception 'realtime.enable: policy % on % calls volatile function %, whose answer for an event''s row may differ from the table''s',
                pg_catalog.quote_ident(policy.polname), tbl, volatile_function
                using errcode = '0A000', hint = explicit_form;
        end if;
        -- The stream reads as each user's role and sub (realtime.read_batch()), the claims its
        -- identity groups are keyed by; a policy reading the claims document may read others.
        select f.oid::regprocedure into claims_function
          from pg_catalog.regexp_matches(policy.tree, ':funcid (\d+)', 'g') as m
          join pg_catalog.pg_proc f on f.oid = m[1]::oid
         where f.oid in (pg_catalog.to_regprocedure('realtime.claims()'),
                         pg_catalog.to_regprocedure('auth.jwt()'))
         limit 1;
        if found then
            raise exception 'realtime.enable: policy % on % reads the token''s claims (%), but events are read with the claims sub and role only',
                pg_catalog.quote_ident(policy.polname), tbl, claims_function
                using errcode = '0A000',
                      hint = 'use auth.uid() or auth.role() in the policy; or ' || explicit_form;
        end if;
        -- Everything the policy reads must be a column of the row (never a system column).
        begin
            execute pg_catalog.format('select (%s) from pg_catalog.unnest(array[null::%s]) as %I where false',
                                      policy.expression, tbl, rel_name);
        exception when others then
            raise exception 'realtime.enable: policy % on % cannot be judged on an event''s row: %',
                pg_catalog.quote_ident(policy.polname), tbl, sqlerrm
                using errcode = '0A000', hint = explicit_form;
        end;
        -- A subquery, or the whole row (a function of the row), needs the row as a FROM item.
        if policy.tree ~ '\{SUBLINK ' or policy.tree ~ '\{VAR :varno 1 :varattno 0 ' then
            inlinable := false;
        end if;
        referenced := referenced || array(
            select m[1]::smallint
              from pg_catalog.regexp_matches(policy.tree, '\{VAR :varno 1 :varattno (\d+) ', 'g') as m);
        if policy.polpermissive then
            permissive := permissive || ('(' || policy.expression || ')');
        else
            restrictive := restrictive || ('(' || policy.expression || ')');
        end if;
    end loop;
    if pg_catalog.cardinality(permissive) = 0 then
        raise exception 'realtime.enable: no permissive SELECT policy of % applies to role authenticated, so its select shows that role no row', tbl
            using errcode = '0A000',
                  hint = 'create one (create policy ... on ' || tbl::text || ' for select to authenticated using (...)); or ' || explicit_form;
    end if;
    expression := '(' || pg_catalog.array_to_string(permissive, ' or ') || ')'
        || coalesce(' and ' || nullif(pg_catalog.array_to_string(restrictive, ' and '), ''), '');
    if inlinable then
        row_columns := array(select distinct c from pg_catalog.unnest(referenced) as c order by c);
    end if;
end
$$;

-- Creates (or replaces) the visibility function enable() generated for a table from `rule`
-- (what policy_rule() gave, or 'true'), and returns it: a function of the table's row type,
-- which the log's policy calls as it calls one given to enable(). Where the rule reads only
-- columns (row_columns, see policy_rule()), it is a function of those columns, named after
-- them, wrapped by the row's: PostgreSQL inlines both into the log's policy, as it inlines a
-- hand-written `select r.owner = auth.uid()`. Otherwise it evaluates the rule over the one row
-- it is given, aliased with the table's name, so `col`, `table.col` and the row `table` (of the
-- table's type) resolve as in the policies. SQL-standard bodies: parsed once, here, so the
-- reader's search_path cannot change what they call. They run as the reading user, as the
-- table's own policies do, so their subqueries see what the reader may see.
create or replace function realtime.create_visibility_function(
    tbl regclass, rule text, row_columns smallint[], source text
) returns regprocedure
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
    rel_schema text;
    rel_name text;
    function_name text;
    parameters text;
    arguments text;
begin
    select n.nspname, c.relname into rel_schema, rel_name
      from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
     where c.oid = tbl;
    -- Within 63 bytes with the inner function's '_c'.
    function_name := pg_catalog.format('visible_%s_%s', pg_catalog.left(rel_name, 40),
        pg_catalog.left(pg_catalog.md5(rel_schema || '.' || rel_name), 12));
    if row_columns is null then
        execute pg_catalog.format(
            'create or replace function realtime.%1$I(%2$s) returns boolean language sql stable'
            ' return (select %3$s from pg_catalog.unnest(array[$1]) as %4$I)',
            function_name, tbl, rule, rel_name);
    else
        select coalesce(pg_catalog.string_agg(pg_catalog.format('%I %s', a.attname,
                            pg_catalog.format_type(a.atttypid, null)), ', ' order by a.attnum), ''),
               coalesce(pg_catalog.string_agg(pg_catalog.format('($1).%I', a.attname), ', '
                            order by a.attnum), '')
          into parameters, arguments
          from pg_catalog.pg_attribute a
         where a.attrelid = tbl and a.attnum = any (row_columns);
        execute pg_catalog.format(
            'create or replace function realtime.%1$I(%2$s) returns boolean language sql stable'
            ' return %3$s',
            function_name || '_c', parameters, rule);
        execute pg_catalog.format(
            'revoke execute on function realtime.%I(%s) from public', function_name || '_c',
            (select coalesce(pg_catalog.string_agg(pg_catalog.format_type(a.atttypid, null), ', '
                                                   order by a.attnum), '')
               from pg_catalog.pg_attribute a
              where a.attrelid = tbl and a.attnum = any (row_columns)));
        execute pg_catalog.format(
            'grant execute on function realtime.%I(%s) to authenticated', function_name || '_c',
            (select coalesce(pg_catalog.string_agg(pg_catalog.format_type(a.atttypid, null), ', '
                                                   order by a.attnum), '')
               from pg_catalog.pg_attribute a
              where a.attrelid = tbl and a.attnum = any (row_columns)));
        execute pg_catalog.format(
            'create or replace function realtime.%1$I(%2$s) returns boolean language sql stable'
            ' return realtime.%3$I(%4$s)',
            function_name, tbl, function_name || '_c', arguments);
    end if;
    execute pg_catalog.format('comment on function realtime.%I(%s) is %L', function_name, tbl,
        pg_catalog.format('threadcast: who may see a row of %s, %s (made by realtime.enable)',
                          tbl, source));
    execute pg_catalog.format('revoke execute on function realtime.%I(%s) from public',
                              function_name, tbl);
    execute pg_catalog.format('grant execute on function realtime.%I(%s) to authenticated',
                              function_name, tbl);
    return pg_catalog.format('realtime.%I(%s)', function_name, tbl)::regprocedure;
end
$$;

-- The name of the log's policy for a table: 'postgres_changes on schema.table', or, where that
-- passes PostgreSQL's 63 bytes, its start and a hash of the whole, so that two long names that
-- share a beginning get policies of their own.
create or replace function realtime.log_policy_name(rel_schema text, rel_name text) returns text
language sql immutable
set search_path = pg_catalog, pg_temp
as $$
    select case
        when octet_length('postgres_changes on ' || rel_schema || '.' || rel_name) <= 63
        then 'postgres_changes on ' || rel_schema || '.' || rel_name
        else 'postgres_changes on ' || left(rel_schema || '.' || rel_name, 30) || ' '
             || left(md5(rel_schema || '.' || rel_name), 12)
    end
$$;

-- Makes a table realtime: its INSERT, UPDATE and DELETE become events on the topic rendered
-- from topic_template, readable by whoever may see the row version each event carries (both,
-- for an UPDATE's variants). Who that is:
--   * realtime.enable(tbl, topic_template): the table's own SELECT policies decide, as they
--     do for `authenticated` selecting from the table (see policy_rule() for what it refuses);
--   * realtime.enable(tbl, topic_template, visible): the function `visible` (of the table's
--     row type, returning boolean) decides; use it in the table's own SELECT policy too, so
--     the table and its events cannot disagree;
--   * realtime.enable(tbl, topic_template, all_rows_visible => true): every reader sees every
--     row of a table without row level security.
-- Enabling again replaces the previous configuration and regenerates the generated functions
-- (so after a policy change, enable again: realtime.check() tells which tables need it).
create or replace function realtime.enable(
    tbl regclass, topic_template text, visible regprocedure default null,
    all_rows_visible boolean default false
) returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
    rel_schema text;
    rel_name text;
    rel_kind "char";
    rel_namespace oid;
    rls boolean;
    row_type oid;
    parts text[];
    column_name text;
    fn_args oidvector;
    fn_returns oid;
    rule_kind text := 'explicit';
    rule_sql text;
    rule_columns smallint[];
    capture_insert text;
    capture_delete text;
    capture_update text;
begin
    select n.nspname, c.relname, c.relkind, c.reltype, c.relnamespace, c.relrowsecurity
      into rel_schema, rel_name, rel_kind, row_type, rel_namespace, rls
      from pg_catalog.pg_class c
      join pg_catalog.pg_namespace n on n.oid = c.relnamespace
     where c.oid = tbl;
    if rel_kind not in ('r', 'p') then
        raise exception 'realtime.enable: % is not a table', tbl using errcode = '42809';
    end if;
    if rel_schema = 'realtime' then
        raise exception 'realtime.enable: tables of the realtime schema cannot be enabled'
            using errcode = '42809';
    end if;
    if not exists (select from pg_catalog.pg_constraint where conrelid = tbl and contype = 'p') then
        raise exception 'realtime.enable: table % has no primary key', tbl
            using errcode = '42P16', hint = 'events identify rows by primary key; add one first';
    end if;

    parts := realtime.parse_topic_template(topic_template);
    for i in 2..coalesce(array_length(parts, 1), 0) by 2 loop
        column_name := parts[i];
        if not exists (
            select from pg_catalog.pg_attribute
             where attrelid = tbl and attname = column_name and attnum > 0 and not attisdropped
        ) then
            raise exception 'realtime.enable: topic template % names column %, which table % does not have',
                topic_template, column_name, tbl
                using errcode = '42703';
        end if;
    end loop;

    if visible is not null then
        if all_rows_visible then
            raise exception 'realtime.enable: give a visibility function or all_rows_visible => true, not both'
                using errcode = '22023';
        end if;
        select p.proargtypes, p.prorettype into fn_args, fn_returns
          from pg_catalog.pg_proc p where p.oid = visible;
        if pg_catalog.array_length(fn_args::oid[], 1) is distinct from 1
                or fn_args[0] <> row_type or fn_returns <> 'boolean'::regtype then
            raise exception 'realtime.enable: visibility function % must take one % row and return boolean',
                visible, tbl
                using errcode = '42883';
        end if;
    else
        if all_rows_visible is null then
            raise exception 'realtime.enable: all_rows_visible must be true or false, not null'
                using errcode = '22004';
        elsif all_rows_visible then
            if rls then
                raise exception 'realtime.enable: table % has row level security enabled, so all_rows_visible => true would show readers rows its policies hide', tbl
                    using errcode = '55000',
                          hint = 'leave all_rows_visible out: realtime.enable(table, topic_template) follows the table''s policies';
            end if;
            rule_kind := 'all rows';
            rule_sql := 'true';
            rule_columns := '{}';
        else
            rule_kind := 'derived';
            select p.expression, p.row_columns into rule_sql, rule_columns
              from realtime.policy_rule(tbl) as p;
        end if;
        -- The events carry every column of the row: readers must be able to select them all.
        if not (pg_catalog.has_schema_privilege('authenticated', rel_namespace, 'USAGE')
                and pg_catalog.has_table_privilege('authenticated', tbl, 'SELECT')) then
            raise exception 'realtime.enable: role authenticated may not select from %, but its events would show it every column', tbl
                using errcode = '42501',
                      hint = pg_catalog.format('grant usage on schema %I to authenticated; grant select on %s to authenticated',
                                               rel_schema, tbl);
        end if;
    end if;

    -- Enabling again replaces the previous configuration.
    if exists (select from realtime.tables t where t.schema_name = rel_schema and t.table_name = rel_name) then
        perform realtime.disable(tbl);
    end if;

    if visible is null then
        visible := realtime.create_visibility_function(tbl, rule_sql, rule_columns,
            case rule_kind when 'derived' then 'derived from its SELECT policies'
                           else 'every row to every reader' end);
    end if;
    capture_insert := realtime.create_capture_function(tbl, parts, 'INSERT');
    capture_delete := realtime.create_capture_function(tbl, parts, 'DELETE');
    capture_update := realtime.create_capture_function(tbl, parts, 'UPDATE');
    insert into realtime.tables
        (schema_name, table_name, topic_template, topic_parts, visible_function,
         capture_function, capture_delete_function, capture_update_function, rule, derived_rule)
    values (rel_schema, rel_name, topic_template, parts, visible::text,
            capture_insert, capture_delete, capture_update, rule_kind, rule_sql);

    execute format(
        'create trigger realtime_capture_insert after insert on %s referencing new table as new_rows'
        ' for each statement execute function %s', tbl, capture_insert);
    execute format(
        'create trigger realtime_capture_delete after delete on %s referencing old table as old_rows'
        ' for each statement execute function %s', tbl, capture_delete);
    execute format(
        'create trigger realtime_capture_update after update on %s'
        ' for each row execute function %s', tbl, capture_update);

    -- An event is judged on every row it reveals, and an UPDATE's variants (see
    -- sql/004_update_visibility.sql) on what the reader may see before and after. The policy calls the very
    -- function the table's RLS uses (or the one generated from its policies); null (unknown)
    -- counts as not visible.
    execute format(
        'create policy %1$I on realtime.messages for select to authenticated using ('
        ' event = %2$L and schema_name = %3$L and table_name = %4$L and case payload ->> %5$L'
        '  when %6$L then coalesce(%7$s(jsonb_populate_record(null::%8$s, payload -> %9$L)), false)'
        '  when %10$L then coalesce(%7$s(jsonb_populate_record(null::%8$s, payload -> %11$L)), false)'
        '   and (counterpart is null'
        '        or not coalesce(%7$s(jsonb_populate_record(null::%8$s, counterpart)), false))'
        '  else coalesce(%7$s(jsonb_populate_record(null::%8$s, payload -> %9$L)), false)'
        '   and case when counterpart is null'
        '        then coalesce(%7$s(jsonb_populate_record(null::%8$s, payload -> %11$L)), false)'
        '        else not coalesce(%7$s(jsonb_populate_record(null::%8$s, counterpart)), false)'
        '       end'
        ' end)',
        realtime.log_policy_name(rel_schema, rel_name),
        'postgres_changes', rel_schema, rel_name, 'eventType',
        'INSERT', visible::regproc, tbl, 'new',
        'DELETE', 'old');
end
$$;

-- Stops capturing a table's changes and drops the functions enable() generated for it. Its
-- past events stay in the log until pruned, but nobody can read them any more: their policy is
-- gone.
create or replace function realtime.disable(tbl regclass) returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
    rel_schema text;
    rel_name text;
    configured realtime.tables;
    generated text;
    inner_function regprocedure;
begin
    select n.nspname, c.relname into rel_schema, rel_name
      from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
     where c.oid = tbl;
    execute format('drop trigger if exists realtime_capture_insert on %s', tbl);
    execute format('drop trigger if exists realtime_capture_delete on %s', tbl);
    execute format('drop trigger if exists realtime_capture_update on %s', tbl);
    execute format('drop policy if exists %I on realtime.messages',
                   realtime.log_policy_name(rel_schema, rel_name));
    -- Before realtime_0003 a long name was cut at 63 bytes (the parser cuts this one the same).
    execute format('drop policy if exists %I on realtime.messages',
                   'postgres_changes on ' || rel_schema || '.' || rel_name);
    delete from realtime.tables t
     where t.schema_name = rel_schema and t.table_name = rel_name
    returning t.* into configured;
    if configured.capture_function is not null then
        execute format('drop function if exists %s', configured.capture_function);
    end if;
    if configured.capture_delete_function is not null then
        execute format('drop function if exists %s', configured.capture_delete_function);
    end if;
    if configured.capture_update_function is not null then
        execute format('drop function if exists %s', configured.capture_update_function);
    end if;
    if configured.rule in ('derived', 'all rows') then
        select p.proname into generated
          from pg_catalog.pg_proc p where p.oid = pg_catalog.to_regprocedure(configured.visible_function);
        execute format('drop function if exists %s', configured.visible_function);
        -- And the function of the row's columns that it wrapped, if it did.
        for inner_function in
            select p.oid::regprocedure from pg_catalog.pg_proc p
             where p.pronamespace = 'realtime'::regnamespace and p.proname = generated || '_c'
        loop
            execute format('drop function %s', inner_function);
        end loop;
    end if;
end
$$;

-- Every enabled table with the policies its readers' selects go through, the log's rule for
-- it, and whether the two still agree: a derived rule agrees while deriving it again gives the
-- same rule (after a policy change it does not, until the table is enabled again); an 'all
-- rows' rule while the table has no row level security; an explicit rule when the table's only
-- policy for readers calls the same function on the row (otherwise agrees is null: only its
-- author can tell). Readers must also be able to select the table. `problem` says what is wrong.
create or replace function realtime.check()
returns table (table_name regclass, rule text, policies text[], log_rule text, agrees boolean,
               problem text)
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
declare
    configured realtime.tables;
    tbl regclass;
    rls boolean;
    rule_now text;
    reader_policies text[];
begin
    for configured in select * from realtime.tables t order by t.schema_name, t.table_name loop
        tbl := pg_catalog.format('%I.%I', configured.schema_name, configured.table_name)::regclass;
        select c.relrowsecurity into rls from pg_catalog.pg_class c where c.oid = tbl;
        table_name := tbl;
        rule := configured.rule;
        problem := null;
        select coalesce(pg_catalog.array_agg(pg_catalog.format('%I %s for %s to %s using (%s)',
                   p.polname, case when p.polpermissive then 'permissive' else 'restrictive' end,
                   case p.polcmd when 'r' then 'select' else 'all' end,
                   (select pg_catalog.string_agg(case r.oid when 0 then 'public'
                                                 else pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(r.oid)) end, ', ')
                      from pg_catalog.unnest(p.polroles) as r(oid)),
                   coalesce(pg_catalog.pg_get_expr(p.polqual, p.polrelid), ''))
                   order by p.polname), '{}')
          into policies
          from pg_catalog.pg_policy p
         where p.polrelid = tbl and p.polcmd in ('r', '*');
        if configured.rule = 'explicit' then
            log_rule := configured.visible_function;
            select pg_catalog.array_agg(pg_catalog.pg_get_expr(p.polqual, p.polrelid)
                                        || case when p.polpermissive then '' else ' (restrictive)' end)
              into reader_policies
              from pg_catalog.pg_policy p
             where p.polrelid = tbl and p.polcmd in ('r', '*') and p.polqual is not null
               and exists (
                   select from pg_catalog.unnest(p.polroles) as r(oid)
                    where r.oid = 0 or pg_catalog.pg_has_role('authenticated', r.oid, 'USAGE'));
            if rls and reader_policies = array[pg_catalog.format('%s(%I.*)',
                    configured.visible_function::regprocedure::regproc, configured.table_name)] then
                agrees := true;
            else
                agrees := null;
                problem := 'an explicit rule: compare ' || configured.visible_function
                    || ' with the policies yourself, or enable the table without it to derive the rule';
            end if;
        elsif configured.rule = 'all rows' then
            log_rule := 'every row to every reader';
            agrees := not rls;
            if rls then
                problem := 'row level security was enabled since: enable the table again without all_rows_visible';
            end if;
        else
            log_rule := configured.derived_rule;
            begin
                select p.expression into rule_now from realtime.policy_rule(tbl) as p;
                agrees := rule_now = configured.derived_rule;
                if not agrees then
                    problem := 'its policies changed since the rule was derived: run realtime.enable('
                        || pg_catalog.quote_literal(tbl::text) || ', '
                        || pg_catalog.quote_literal(configured.topic_template) || ') again';
                end if;
            exception when others then
                agrees := false;
                problem := sqlerrm;
            end;
        end if;
        if not (pg_catalog.has_schema_privilege('authenticated', configured.schema_name, 'USAGE')
                and pg_catalog.has_table_privilege('authenticated', tbl, 'SELECT')) then
            agrees := false;
            problem := coalesce(problem || '; ', '')
                || 'role authenticated may not select from the table, but its events show it every row they carry';
        end if;
        return next;
    end loop;
end
$$;

revoke execute on function realtime.enable(regclass, text, regprocedure, boolean),
                           realtime.check(),
                           realtime.policy_rule(regclass),
                           realtime.log_policy_name(text, text),
                           realtime.create_visibility_function(regclass, text, smallint[], text)
    from public;
