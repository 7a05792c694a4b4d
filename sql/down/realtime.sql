-- Uninstalls sql/realtime.sql (the realtime track's baseline downgrade): removes the realtime
-- schema and, where no other database still uses them, the roles it created.

drop schema if exists realtime cascade;

do $$
declare
    role_name text;
begin
    foreach role_name in array array['threadcast', 'authenticated', 'anon'] loop
        begin
            execute format('drop role if exists %I', role_name);
        exception when dependent_objects_still_exist then
            -- Roles are cluster-wide; another database still grants them something.
            raise notice 'role % is still used elsewhere in this cluster; kept', role_name;
        end;
    end loop;
end
$$;
